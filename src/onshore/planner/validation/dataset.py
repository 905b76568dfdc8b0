"""The published measurements in ``data/published.csv``, grouped into predictable points.

One point is one configuration (a scenario row) with every metric measured for it. Metric names
map onto the simulator's summary fields; AIConfigurator's silicon rows do not say whether their
TTFT/TPOT are means or medians, and are compared with the simulated means.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from onshore.planner.errors import PlannerError
from onshore.planner.predict import SCENARIOS, Scenario, parse_row

# The split a calibration fit reads, and the one it must never read.
FIT_SPLIT = "calibration"
HOLDOUT_SPLIT = "holdout"
# MLPerf Inference rounds kept out of every fit (issue 14): their results check the planner.
HELD_OUT_SOURCES = ("inference_results_v4.1", "inference_results_v5.1")
# Optional columns (the p99 limits of an ``slo`` row, a replica's ``parallel`` layout, a run's
# fixed number of ``requests``); rows written before they existed lack them.
OPTIONAL_COLUMNS = ("ttft_p99_ms", "tpot_p99_ms", "parallel", "requests")

# published metric name -> (summary field, metric family used in the error table)
METRICS: dict[str, tuple[str, str]] = {
    "ttft": ("ttft_mean_ms", "ttft"),
    "ttft_mean": ("ttft_mean_ms", "ttft"),
    "ttft_p99": ("ttft_p99_ms", "ttft"),
    "tpot": ("tpot_mean_ms", "tpot"),
    "tpot_mean": ("tpot_mean_ms", "tpot"),
    "tpot_p99": ("tpot_p99_ms", "tpot"),
    "output_tokens_per_s": ("output_tokens_per_s", "throughput"),
    # a batch's latency (vLLM's benchmark_latency: one batch of ``load`` prompts, run to the end),
    # a ``concurrency`` row with one request per client: the mean request's end-to-end latency
    "e2e_mean": ("e2e_mean_ms", "e2e latency"),
    # scenario slo: the highest Poisson rate within the row's p99 limits (MLPerf Server's result),
    # from ``predict_metrics``; the summary of a plain simulation has no such field
    "max_requests_per_s": ("max_requests_per_s", "slo capacity"),
}


@dataclass(frozen=True, slots=True)
class Point:
    """One measured configuration: its scenario, split, source and measured metric values."""

    key: str
    scenario: Scenario
    split: str
    engine: str
    source: str
    measured: dict[str, float]


def _text(path: Path | None) -> str:
    if path is not None:
        return path.read_text(encoding="utf-8")
    ref = resources.files("onshore.planner.validation").joinpath("data", "published.csv")
    return ref.read_text(encoding="utf-8")


def load_points(path: Path | None = None, split: str | None = None) -> list[Point]:
    """Points with at least one comparable metric; ``split`` filters calibration / holdout.

    Rows of a scenario kind ``predict`` does not run are skipped, so the data can carry them ahead
    of the code. ``slo`` rows (MLPerf Server results: ``max_requests_per_s`` within the row's
    ``ttft_p99_ms``/``tpot_p99_ms``) are points like the others.
    """
    grouped: dict[str, Point] = {}
    for raw in csv.DictReader(io.StringIO(_text(path))):
        # a row shorter than the header (an optional column absent) reads as empty, not None
        row = {k: v or "" for k, v in raw.items() if k is not None}
        if row["split"] == "excluded" or row["metric"] not in METRICS:
            continue
        if row["scenario"].strip().lower() not in SCENARIOS:
            continue
        if split is not None and row["split"] != split:
            continue
        key = "|".join(
            row[k]
            for k in (
                "source_id",
                "model",
                "gpu",
                "tensor_parallel",
                "precision",
                "scenario",
                "input_len",
                "output_len",
                "load",
            )
        )
        point = grouped.get(key)
        if point is None:
            point = Point(key, parse_row(row), row["split"], row["engine"], row["source"], {})
            grouped[key] = point
        point.measured[row["metric"]] = float(row["value"])
    return list(grouped.values())


def is_held_out_source(source: str) -> bool:
    """Whether a row's source is a held-out MLPerf round (v4.1, v5.1)."""
    return any(name in source for name in HELD_OUT_SOURCES)


def fit_points(path: Path | None = None) -> list[Point]:
    """The only points a calibration fit may read: the fit split, and never a held-out MLPerf round.

    The split already keeps MLPerf v4.1/v5.1 out (``benchmarks/mlperf_extract.py`` labels them
    ``holdout``); the source check makes a mislabelled row fail loudly instead of leaking.
    """
    points = load_points(path, split=FIT_SPLIT)
    leaked = [p.key for p in points if is_held_out_source(p.source)]
    if leaked:
        raise PlannerError(f"held-out MLPerf results labelled {FIT_SPLIT!r}: {', '.join(leaked[:3])}")
    return points
