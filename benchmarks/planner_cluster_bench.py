"""Sweep executors side by side: start-up, per-task overhead, and the Korea sizing sweep.

For each executor (local process pool, Dask LocalCluster, local Ray; ``--workers`` each): the time
to start it and run one trivial task, the overhead per task (``--tasks`` trivial tasks), and the
whole Korea sizing sweep of docs/planner.md, checked against the serial executor's answer. Needs the
planner-cluster extra. Note the load: on a shared machine the numbers are indicative only.

    cat /proc/loadavg; .venv/bin/python benchmarks/planner_cluster_bench.py --workers 2
"""

from __future__ import annotations

import argparse
import os
import time

from onshore.planner.demand import UserDemand, from_users
from onshore.planner.executor import SerialExecutor, make_executor
from onshore.planner.sizing import SizingResult, Slo, default_candidates, size


def _noop(x: int) -> int:
    return x


def _korea(executor: object) -> SizingResult:
    cands = default_candidates(
        ["h100", "h200", "b200", "gb200", "mi300x", "mi325x"], [1, 2, 4, 8], ["fp8", "fp4"], [256]
    )
    return size("llama-3.1-70b", from_users(UserDemand()), Slo(), cands, executor)  # type: ignore[arg-type]


def _answer(res: SizingResult) -> list[tuple[str, bool, str, float, int]]:
    return [(r.candidate.label, r.feasible, r.reason, r.rate_per_replica, r.replicas) for r in res.results]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--executors", default="local,dask,ray")
    parser.add_argument("--skip-sweep", action="store_true")
    args = parser.parse_args()
    with open("/proc/loadavg") as fh:
        print(f"loadavg {fh.read().strip()}; cpus {len(os.sched_getaffinity(0))}")
    serial = None
    if not args.skip_sweep:
        t0 = time.perf_counter()
        serial = _answer(_korea(SerialExecutor()))
        print(f"serial: Korea sweep {time.perf_counter() - t0:.1f} s")
    for kind in args.executors.split(","):
        t0 = time.perf_counter()
        with make_executor(kind, args.workers) as ex:
            list(ex.map_unordered(_noop, [0]))
            start = time.perf_counter() - t0
            t1 = time.perf_counter()
            list(ex.map_unordered(_noop, list(range(args.tasks))))
            per_task = (time.perf_counter() - t1) / args.tasks
            line = f"{kind}: start {start:.2f} s; {per_task * 1e3:.2f} ms per trivial task"
            if serial is not None:
                t2 = time.perf_counter()
                same = _answer(_korea(ex)) == serial
                line += f"; Korea sweep {time.perf_counter() - t2:.1f} s, same answer as serial: {same}"
        print(line)


if __name__ == "__main__":
    main()
