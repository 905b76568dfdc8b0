"""The published-measurement file loads, and predictions pair up with it."""

from __future__ import annotations

import math

from onshore.planner.validation import compare, error_table, load_points
from onshore.planner.validation.run import derived_throughput


def test_points_have_sources_and_both_splits() -> None:
    points = load_points()
    assert len(points) > 500
    assert {p.split for p in points} == {"calibration", "holdout"}
    assert all(p.source for p in points)


def test_comparisons_and_error_table() -> None:
    points = [p for p in load_points(split="holdout") if p.scenario.load <= 16][:4]
    comparisons = compare(points)
    assert comparisons and all(math.isfinite(c.error) for c in comparisons)
    table = error_table(comparisons)
    assert all(row["n"] > 0 and row["median_abs_pct"] >= 0 for row in table.values())
    p = points[0]
    implied = derived_throughput(p)
    assert implied is not None and implied > 0
