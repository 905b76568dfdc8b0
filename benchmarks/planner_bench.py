"""Planner benchmark: simulator throughput on a 100-replica fleet, and a full sizing search.

Run pinned to one core and note the load, e.g.:
    cat /proc/loadavg; taskset -c 1 .venv/bin/python benchmarks/planner_bench.py
Options: --requests N (default 1,000,000), --replicas R (100), --workers W for the search (1),
--exhaustive (simulate every configuration; by default those that cannot reach the top 5 are not).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from onshore.planner.catalog import gpu, model
from onshore.planner.demand import UserDemand, from_users
from onshore.planner.executor import LocalProcessExecutor
from onshore.planner.perf import calibration as calib
from onshore.planner.perf.kv import kv_capacity_blocks
from onshore.planner.perf.roofline import ReplicaSpec, StepModel
from onshore.planner.sim import EngineConfig, LengthDist, poisson, simulate, summarise
from onshore.planner.sizing import KEEP, Slo, default_candidates, size


def bench_sim(requests: int, replicas: int, rate_per_replica: float) -> None:
    spec = ReplicaSpec(model("llama-3.1-8b"), gpu("h100"), 1, "fp8")
    step = StepModel.build(spec, calib.shipped("vllm"))
    cfg = EngineConfig(kv_blocks=kv_capacity_blocks(spec), max_num_seqs=256)
    rng = np.random.default_rng(0)
    work = poisson(
        rng,
        rate_per_replica * replicas,
        requests,
        LengthDist(1200, 0.9, 1, 16384),
        LengthDist(400, 0.7, 1, 16384),
    )
    t0 = time.perf_counter()
    res = simulate(step, cfg, work, replicas, rng)
    wall = time.perf_counter() - t0
    s = summarise(res)
    print(
        f"simulate: {requests:,} requests, {replicas} replicas of Llama-3.1-8B on 1xH100 FP8, "
        f"{rate_per_replica:g} req/s per replica (utilisation {s.utilisation:.2f})"
    )
    print(
        f"  wall {wall:.2f} s = {requests / wall:,.0f} simulated requests/s; "
        f"{res.iterations:,} lock-step iterations; {s.duration_s:,.0f} simulated seconds; "
        f"p99 TTFT {s.ttft_p99_ms:.0f} ms, p99 TPOT {s.tpot_p99_ms:.1f} ms"
    )


def bench_size(workers: int, exhaustive: bool) -> None:
    demand = from_users(UserDemand())
    cands = default_candidates(
        ["h100", "h200", "b200", "gb200", "mi300x", "mi325x"], [1, 2, 4, 8], ["fp8", "fp4"], [256]
    )
    t0 = time.perf_counter()
    with LocalProcessExecutor(workers) as pool:
        res = size("llama-3.1-70b", demand, Slo(), cands, pool, keep=None if exhaustive else KEEP)
    wall = time.perf_counter() - t0
    simulated = sum(not r.reason.startswith("not simulated") for r in res.results)
    best = res.best
    label = best.candidate.label if best else "none"
    gpus = best.cost.gpus if best and best.cost else 0
    print(
        f"size: Llama-3.1-70B for 20.31M MAU ({demand.peak_rps:,.0f} req/s peak), "
        f"{len(cands)} configurations ({simulated} simulated), {workers} worker(s): {wall:.1f} s; "
        f"best {label}, {gpus:,} GPUs"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--replicas", type=int, default=100)
    parser.add_argument("--rate-per-replica", type=float, default=8.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--skip-size", action="store_true")
    parser.add_argument("--exhaustive", action="store_true", help="simulate every configuration")
    args = parser.parse_args()
    with open("/proc/loadavg") as fh:
        print(f"loadavg {fh.read().strip()}; cpus {os.sched_getaffinity(0)}")
    bench_sim(args.requests, args.replicas, args.rate_per_replica)
    if not args.skip_size:
        bench_size(args.workers, args.exhaustive)


if __name__ == "__main__":
    main()
