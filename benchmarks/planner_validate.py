"""Print every published figure beside the planner's prediction, and the median errors.

    .venv/bin/python benchmarks/planner_validate.py [--split holdout|calibration|all] [--limit N]
        [--gpu ID ...] [--engine NAME ...] [--scenario KIND ...] [--calibration FILE] [--rows]
        [--csv OUT.csv]

Scenario ``slo`` rows (MLPerf Server/Interactive results) are compared as SLO capacity
(``max_requests_per_s``, the same search ``plan predict`` runs). Tables by engine, GPU vendor and
source from one or more ``--csv`` files: ``benchmarks/planner_validation_tables.py``.

Data: src/onshore/planner/validation/data/published.csv (every row cites its source). The
calibration split was used to fit the shipped calibration; the holdout split never was.
"""

from __future__ import annotations

import argparse
import csv
import functools
import sys
import time
from pathlib import Path

from onshore.planner.catalog import gpu
from onshore.planner.perf import calibration as calib
from onshore.planner.perf.calibration import Calibration
from onshore.planner.validation import compare, error_table, load_points
from onshore.planner.validation.dataset import Point


def _profile(path: Path, point: Point) -> Calibration:
    """The point's profile in the file (its engine's on its GPU's vendor, as shipped ones are read)."""
    return calib.load(path, calib.profile_name(point.engine, gpu(point.scenario.gpu).vendor))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--split", choices=["holdout", "calibration", "all"], default="all")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--gpu", action="append", default=None, help="only points on this GPU (repeatable)")
    parser.add_argument(
        "--engine", action="append", default=None, help="only this engine's points (repeatable)"
    )
    parser.add_argument(
        "--scenario", action="append", default=None, help="only rows of this kind: offline, rate, slo, ..."
    )
    parser.add_argument(
        "--calibration",
        type=Path,
        default=None,
        help="a calibration file (calibrate --out) instead of the shipped",
    )
    parser.add_argument("--rows", action="store_true", help="print every comparison, not only the summary")
    parser.add_argument("--csv", default=None, help="write every comparison to this CSV")
    args = parser.parse_args()
    points = load_points(split=None if args.split == "all" else args.split)
    if args.gpu:
        points = [p for p in points if p.scenario.gpu in args.gpu]
    if args.engine:
        points = [p for p in points if p.engine in args.engine]
    if args.scenario:
        points = [p for p in points if p.scenario.scenario in args.scenario]
    if args.limit:
        points = points[: args.limit]
    cal = functools.partial(_profile, args.calibration) if args.calibration is not None else None
    t0 = time.perf_counter()
    comparisons = compare(points, cal)
    wall = time.perf_counter() - t0
    if args.rows:
        print(
            f"{'split':11s} {'engine':7s} {'model':16s} {'gpu':6s} TP {'prec':4s} {'ISL/OSL':10s} "
            f"{'load':>6s} {'metric':22s} {'published':>10s} {'predicted':>10s} {'error':>7s}"
        )
        for c in comparisons:
            s = c.point.scenario
            print(
                f"{c.point.split:11s} {c.point.engine:7s} {s.model:16s} {s.gpu:6s} {s.tensor_parallel:2d} "
                f"{s.precision:4s} {s.input_len:>5d}/{s.output_len:<4d} {s.load:6g} {c.metric:22s} "
                f"{c.measured:10.1f} {c.predicted:10.1f} {c.error:+7.1%}"
            )
    if args.csv:
        with open(args.csv, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(
                [
                    "source_id",
                    "split",
                    "engine",
                    "model",
                    "gpu",
                    "tp",
                    "precision",
                    "isl",
                    "osl",
                    "scenario",
                    "load",
                    "metric",
                    "published",
                    "predicted",
                    "error",
                ]
            )
            for c in comparisons:
                s = c.point.scenario
                w.writerow(
                    [
                        c.point.key.split("|")[0],
                        c.point.split,
                        c.point.engine,
                        s.model,
                        s.gpu,
                        s.tensor_parallel,
                        s.precision,
                        s.input_len,
                        s.output_len,
                        s.scenario,
                        s.load,
                        c.metric,
                        c.measured,
                        f"{c.predicted:.4g}",
                        f"{c.error:.4f}",
                    ]
                )
    print(f"\n{len(points)} points, {len(comparisons)} comparisons in {wall:.1f} s")
    print(f"{'metric [split]':36s} {'n':>5s} {'median |err|':>13s} {'mean signed':>12s}")
    for name, row in error_table(comparisons).items():
        print(
            f"{name:36s} {int(row['n']):5d} {row['median_abs_pct']:12.1f}% {row['mean_signed_pct']:+11.1f}%"
        )
    by_engine: dict[str, list[float]] = {}
    for c in comparisons:
        if c.point.split == "holdout":
            by_engine.setdefault(f"{c.family} / {c.point.engine}", []).append(abs(c.error))
    if by_engine:
        print("\nholdout by engine:")
        for name, errs in sorted(by_engine.items()):
            errs.sort()
            print(f"  {name:36s} n={len(errs):4d} median |err| {100 * errs[len(errs) // 2]:.1f}%")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
