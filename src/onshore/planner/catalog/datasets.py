"""Named traffic profiles: the request-length statistics of public benchmark data sets.

Rows of ``data/datasets.csv``, each citing its source (mostly MLPerf Inference's LLM benchmarks,
summarised with their sources in ``shared/research/mlperf-datasets.md``). A side (input or output)
with published quantiles becomes an empirical distribution through them, bent to the published
mean (:func:`onshore.planner.sim.lengths.empirical`); a side with only a mean becomes a log-normal
with the row's ``*_sigma``, which the ``assumed`` column flags; ``sigma = 0`` is a fixed length.
MLPerf's p99 latency limits come along (``slo``), for SLO-capacity scenarios.

Not exported from ``onshore.planner.catalog``: it imports the simulator's distributions, which
import the catalog, so importing it from the package's ``__init__`` would be circular.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from onshore.planner.catalog._csv import num, read_rows
from onshore.planner.errors import PlannerError
from onshore.planner.sim.lengths import LengthDist, empirical, lognormal

_QUANTILES = (("min", 0.0), ("p10", 0.10), ("p50", 0.50), ("p90", 0.90), ("p99", 0.99), ("max", 1.0))


@dataclass(frozen=True, slots=True)
class Dataset:
    """One traffic profile: input and output length distributions, MLPerf's latency limits, source."""

    id: str
    name: str
    benchmark: str
    input: LengthDist
    output: LengthDist
    server_slo_ms: tuple[float, float] | None  # (TTFT p99, TPOT p99)
    interactive_slo_ms: tuple[float, float] | None
    assumed: tuple[str, ...]
    source: str
    notes: str


def _side(row: dict[str, str], side: str) -> LengthDist:
    mean = num(row, f"{side}_mean")
    knots = {p: num(row, f"{side}_{col}") for col, p in _QUANTILES if row.get(f"{side}_{col}", "").strip()}
    high = int(num(row, f"{side}_max", 131072))
    if 0.5 in knots and 0.0 in knots and 1.0 in knots:
        return empirical(knots, mean)
    sigma = row.get(f"{side}_sigma", "").strip()
    if not sigma:
        raise PlannerError(f"dataset {row['id']}: {side} has neither min/p50/max quantiles nor a sigma")
    return lognormal(mean, float(sigma), high)


def _slo(row: dict[str, str], kind: str) -> tuple[float, float] | None:
    ttft, tpot = num(row, f"{kind}_ttft_p99_ms"), num(row, f"{kind}_tpot_p99_ms")
    return (ttft, tpot) if ttft > 0 and tpot > 0 else None


@cache
def _load(path: Path | None) -> dict[str, Dataset]:
    out: dict[str, Dataset] = {}
    for row in read_rows("datasets.csv", path):
        if not row.get("source", "").strip():
            raise PlannerError(f"dataset {row['id']} cites no source")
        out[row["id"]] = Dataset(
            id=row["id"],
            name=row["name"],
            benchmark=row["benchmark"],
            input=_side(row, "input"),
            output=_side(row, "output"),
            server_slo_ms=_slo(row, "server"),
            interactive_slo_ms=_slo(row, "interactive"),
            assumed=tuple(row.get("assumed", "").split()),
            source=row["source"],
            notes=row.get("notes", ""),
        )
    return out


def load_datasets(path: Path | None = None) -> dict[str, Dataset]:
    """Every profile by id (the packaged catalog unless ``path`` names another CSV)."""
    return _load(path)


def dataset(name: str) -> Dataset:
    """A profile by id or benchmark name (``openorca`` or ``mlperf-llama2-70b``)."""
    key = name.strip().lower()
    for d in load_datasets().values():
        if key in (d.id, d.benchmark):
            return d
    known = ", ".join(sorted(load_datasets()))
    raise PlannerError(f"unknown dataset {name!r}; known: {known}")
