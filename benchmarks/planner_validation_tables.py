"""Markdown tables of held-out error from ``planner_validate.py --csv`` runs, side by side.

    .venv/bin/python benchmarks/planner_validate.py --split holdout --csv before.csv   # one calibration
    .venv/bin/python benchmarks/planner_validate.py --split holdout --csv after.csv    # another
    .venv/bin/python benchmarks/planner_validation_tables.py before=before.csv after=after.csv

Median absolute percentage error on the holdout split, by metric (issue 14's goals beside it), by
metric and engine, by metric and GPU vendor, and by metric and source, where MLPerf v4.1 and v5.1
(held out, never fitted) are rows of their own.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable

import numpy as np

from onshore.planner.validation.run import THROUGHPUT_KINDS

# issue 14: median |error| on held-out public data
GOALS = {"throughput": 10.0, "ttft": 20.0, "tpot": 10.0, "slo capacity": 15.0}
# the CSV's metric -> the family the goals name
FAMILY = {
    "output_tokens_per_s": "throughput",
    "derived_tokens_per_s": "throughput (derived)",
    "ttft": "ttft",
    "ttft_mean": "ttft",
    "ttft_p99": "ttft",
    "tpot": "tpot",
    "tpot_mean": "tpot",
    "tpot_p99": "tpot",
    "max_requests_per_s": "slo capacity",
}
ORDER = [
    "throughput",
    *THROUGHPUT_KINDS.values(),
    "ttft",
    "tpot",
    "slo capacity",
    "throughput (derived)",
]
AMD_GPUS = ("mi300x", "mi325x", "mi355x")

Row = dict[str, str]


def families(row: Row) -> list[str]:
    """The row's family, and for a published throughput also which kind: offline is the real
    test; a Server run's throughput is mostly its arrival rate (any system that keeps up matches)."""
    family = FAMILY[row["metric"]]
    kind = THROUGHPUT_KINDS.get(row["scenario"])
    return [family, kind] if family == "throughput" and kind is not None else [family]


def vendor(row: Row) -> str:
    return "AMD" if row["gpu"] in AMD_GPUS else "NVIDIA"


def source(row: Row) -> str:
    sid = row["source_id"]
    if sid.startswith("MLPERF:"):
        return f"MLPerf {sid.split(':')[1]}"
    return sid.split(":")[0]


def read(path: str) -> list[Row]:
    with open(path, newline="", encoding="utf-8") as fh:
        return [r for r in csv.DictReader(fh) if r["split"] == "holdout"]


def cell(rows: list[Row]) -> str:
    if not rows:
        return "–"
    errs = np.abs(np.array([float(r["error"]) for r in rows]))
    return f"{100 * float(np.median(errs)):.1f} %"


def table(runs: dict[str, list[Row]], group: Callable[[Row], str] | None, title: str) -> str:
    keys: set[tuple[str, str]] = set()
    for rows in runs.values():
        keys |= {(f, group(r) if group else "all") for r in rows for f in families(r)}
    head = f"| metric | {title} | n | " + " | ".join(runs) + " | goal |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for family, name in sorted(keys, key=lambda k: (ORDER.index(k[0]), k[1])):
        cells = []
        n = 0
        for rows in runs.values():
            chosen = [r for r in rows if family in families(r) and (group(r) if group else "all") == name]
            n = max(n, len(chosen))
            cells.append(cell(chosen))
        goal = f"≤ {GOALS[family]:g} %" if family in GOALS else ""
        if family.startswith("throughput:"):
            goal = "(within the above)"
        lines.append(f"| {family} | {name} | {n} | " + " | ".join(cells) + f" | {goal} |")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    runs = {}
    for arg in argv:
        label, _, path = arg.partition("=")
        runs[label] = read(path)
    for title, group in (
        ("all held-out", None),
        ("engine", lambda r: r["engine"]),
        ("GPU vendor", vendor),
        ("engine / vendor", lambda r: f"{r['engine']} / {vendor(r)}"),
        ("source", source),
    ):
        print(f"\n#### Median |error| by {title}\n")
        print(table(runs, group, title))


if __name__ == "__main__":
    main(sys.argv[1:])
