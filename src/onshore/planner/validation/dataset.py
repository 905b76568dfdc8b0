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

from onshore.planner.predict import Scenario, parse_row

# published metric name -> (summary field, metric family used in the error table)
METRICS: dict[str, tuple[str, str]] = {
    "ttft": ("ttft_mean_ms", "ttft"),
    "ttft_mean": ("ttft_mean_ms", "ttft"),
    "ttft_p99": ("ttft_p99_ms", "ttft"),
    "tpot": ("tpot_mean_ms", "tpot"),
    "tpot_mean": ("tpot_mean_ms", "tpot"),
    "tpot_p99": ("tpot_p99_ms", "tpot"),
    "output_tokens_per_s": ("output_tokens_per_s", "throughput"),
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
    """Points with at least one comparable metric; ``split`` filters calibration / holdout."""
    grouped: dict[str, Point] = {}
    for row in csv.DictReader(io.StringIO(_text(path))):
        if row["split"] == "excluded" or row["metric"] not in METRICS:
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
