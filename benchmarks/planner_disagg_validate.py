"""Disaggregated vs aggregated serving on NVIDIA Dynamo's published Llama 70B setup.

Dynamo's docs (ai-dynamo/dynamo, docs/architecture "Disaggregated serving"; tested on H100s with
R1-Distilled Llama 70B FP8 on vLLM, 3K ISL / 150 OSL) report a 30 % throughput/GPU gain from
disaggregation on one node and "over 2X" on two nodes, as Pareto curves of throughput/GPU against
throughput/user. This script asks the planner the same question: for each per-user speed (a mean
TPOT limit; a 5 s p99 TTFT keeps queues stable), the highest Poisson rate each layout of 8 (one
node, KV over NVLink) or 16 GPUs (two nodes, KV over 400 Gb/s InfiniBand) sustains, best
aggregated against best disaggregated. R1-Distill-Llama-70B has Llama 3.3 70B's architecture,
which is the catalog's llama-3.1-70b.

    PYTHONPATH=src .venv/bin/python benchmarks/planner_disagg_validate.py [--requests 600]
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

import numpy as np

from onshore.planner import disagg
from onshore.planner.catalog import gpu, model
from onshore.planner.perf import calibration as calib
from onshore.planner.perf.kv import kv_capacity_blocks
from onshore.planner.perf.roofline import ReplicaSpec, StepModel
from onshore.planner.sim import EngineConfig, Summary, simulate, summarise
from onshore.planner.sim import workload as wl
from onshore.planner.sim.lengths import fixed

ISL, OSL = 3000, 150
NODES = {
    1: (["2x4", "1x8", "4x2"], ["2x2:1x4", "1x4:1x4", "4x1:1x4", "1x2:3x2", "2x2:2x2", "3x1:1x4"]),
    2: (["4x4", "2x8", "8x2"], ["2x4:1x8", "4x2:1x8", "2x4:2x4", "4x2:2x4", "6x2:1x4", "3x4:1x4", "8x1:2x4"]),
}


def max_rate(run: Callable[[float], Summary], tpot_ms: float, hi: float = 64.0, steps: int = 9) -> float:
    """Highest Poisson rate with mean TPOT <= ``tpot_ms`` and p99 TTFT <= 5 s (geometric bisection)."""

    def ok(rate: float) -> bool:
        s = run(rate)
        return s.tpot_mean_ms <= tpot_ms and s.ttft_p99_ms <= 5000.0

    lo = hi / 256.0
    if not ok(lo):
        return 0.0
    for _ in range(steps):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=600)
    ap.add_argument("--tpot", type=float, nargs="*", default=[15.0, 20.0, 30.0, 50.0])
    args = ap.parse_args()
    cal = calib.shipped("vllm")
    base = ReplicaSpec(model("llama-3.1-70b"), gpu("h100"), 8, "fp8")

    def work(rate: float) -> wl.Workload:
        return wl.poisson(np.random.default_rng(0), rate, args.requests, fixed(ISL), fixed(OSL))

    def agg(label: str) -> Callable[[float], Summary]:
        reps, tp = (int(v) for v in label.split("x"))
        spec = ReplicaSpec(base.model, base.gpu, tp, base.precision)
        step = StepModel.build(spec, cal)
        cfg = EngineConfig(kv_capacity_blocks(spec), 256, int(cal.max_batched_tokens))
        return lambda r: summarise(simulate(step, cfg, work(r), reps, np.random.default_rng(1)), 0.2)

    def dis(label: str, link: str) -> Callable[[float], Summary]:
        lay = disagg.Layout.parse(label, 1)
        return lambda r: summarise(
            disagg.run_layout(base, cal, lay, work(r), np.random.default_rng(1), link).result, 0.2
        )

    print(
        "| GPUs | KV link | mean TPOT limit | best aggregated (req/s) | best disaggregated (req/s) | gain |"
    )
    print("|---|---|---|---|---|---|")
    for nodes, (aggs, diss) in NODES.items():
        link = "scaleup" if nodes == 1 else "scaleout"
        for tpot in args.tpot:
            a = max((max_rate(agg(x), tpot), x) for x in aggs)
            d = max((max_rate(dis(x, link), tpot), x) for x in diss)
            gain = d[0] / a[0] if a[0] > 0 else math.inf
            print(
                f"| {8 * nodes} | {link} | {tpot:.0f} ms | {a[0]:.2f} ({a[1]}) | {d[0]:.2f} ({d[1]}) "
                f"| {gain:.2f}x |"
            )


if __name__ == "__main__":
    main()
