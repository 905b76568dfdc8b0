"""The long-run throughput bound: above what the simulator sustains, and not far above it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from onshore.planner import slo
from onshore.planner.catalog import gpu, model
from onshore.planner.perf import calibration as calib
from onshore.planner.perf.kv import kv_capacity_blocks
from onshore.planner.perf.roofline import ReplicaSpec, StepModel
from onshore.planner.sim import EngineConfig, LengthDist, simulate
from onshore.planner.sim import workload as wl
from onshore.planner.throughput_bound import replica_rate

SPEC = ReplicaSpec(model("llama-3.1-8b"), gpu("h100"), 1, "fp8")
STEP = StepModel.build(SPEC, calib.shipped("vllm"))
PROMPT = LengthDist(500.0, 0.9, 1, 4096)
OUTPUT = LengthDist(150.0, 0.7, 1, 4096)
CFG = EngineConfig(kv_blocks=kv_capacity_blocks(SPEC), max_num_seqs=64, max_batched_tokens=2048)


def _long_run_rate(cfg: EngineConfig, hits: float) -> float:
    """Requests/s of one replica with 16 full batches queued at once, start and drain left out
    (``slo.saturated_throughput`` on a run long enough to be steady)."""
    n = 16 * cfg.max_num_seqs
    if hits == 0.0:
        return slo.saturated_throughput(STEP, cfg, 1, PROMPT, OUTPUT, n, seed=3)
    return slo.saturated_throughput(STEP, cfg, 1, PROMPT, OUTPUT, n, seed=3, prefix_hit_rate=hits)


@pytest.mark.parametrize(
    ("cfg", "hits"),
    [
        (CFG, 0.0),
        (CFG, 0.5),
        (dataclasses.replace(CFG, chunked_prefill=False), 0.0),
        (dataclasses.replace(CFG, kv_blocks=1200), 0.0),  # 19,200 tokens: the KV cache limits the batch
    ],
    ids=["chunked", "prefix-hits", "unchunked", "kv-bound"],
)
def test_the_bound_is_above_a_long_simulated_run_and_not_far_above_it(cfg: EngineConfig, hits: float) -> None:
    bound = replica_rate(STEP, cfg, PROMPT.mean, OUTPUT.mean, hits)
    simulated = _long_run_rate(cfg, hits)
    assert simulated <= bound
    assert simulated >= 0.6 * bound  # 0.74-0.91 of it here; a looser bound would prune little


def test_prefill_and_small_batches_lower_the_bound() -> None:
    base = replica_rate(STEP, CFG, 500.0, 150.0, 0.0)
    assert replica_rate(STEP, CFG, 2000.0, 150.0, 0.0) < base  # prefill is counted
    big = dataclasses.replace(CFG, max_num_seqs=512, max_batched_tokens=8192)  # compute-bound
    # cached prefixes are not prefilled
    assert replica_rate(STEP, big, 2000.0, 150.0, 0.5) > replica_rate(STEP, big, 2000.0, 150.0, 0.0)
    assert replica_rate(STEP, dataclasses.replace(CFG, max_num_seqs=8), 500.0, 150.0, 0.0) < base
    assert replica_rate(STEP, dataclasses.replace(CFG, max_num_seqs=512), 500.0, 150.0, 0.0) >= base


def test_the_bound_holds_for_a_poisson_run_past_it() -> None:
    # 20 % over the bound, the queue grows for the whole run: the last arrivals wait longest
    rate = 1.2 * replica_rate(STEP, CFG, PROMPT.mean, OUTPUT.mean, 0.0)
    rng = np.random.default_rng(5)
    res = simulate(STEP, CFG, wl.poisson(rng, rate, 3000, PROMPT, OUTPUT), 1, rng)
    wait = res.first_token - res.arrival
    assert wait[-300:].mean() > 3 * wait[300:600].mean()
