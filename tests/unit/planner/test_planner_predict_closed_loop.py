"""``concurrency`` rows: clients that start together drift apart, as a benchmark's clients do."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from onshore.planner.perf import calibration as calib
from onshore.planner.predict import _setup, parse_row, predict
from onshore.planner.sim import Summary, simulate, summarise
from onshore.planner.sim import workload as wl
from onshore.planner.sim.lengths import fixed

# One replica of Llama 3.1 70B FP8 on 4 x H200 (TensorRT-LLM, unchunked prefill), 32 clients with
# 1,024-token prompts and 2,048-token answers, ten requests each: a wave of prompts prefilled
# together takes several hundred ms, one prompt a few tens.
ROW = {
    "model": "llama-3.1-70b",
    "gpu": "h200",
    "num_gpus": "4",
    "tensor_parallel": "4",
    "precision": "fp8",
    "engine": "trtllm",
    "scenario": "concurrency",
    "input_len": "1024",
    "output_len": "2048",
    "load": "32",
}


def _lock_step() -> tuple[Summary, float]:
    """The same clients with identical lengths: the run's summary and the mean TTFT (ms) of the
    requests after the first wave."""
    s = parse_row(ROW)
    _, step, cfg = _setup(s, None)
    rng = np.random.default_rng(0)
    r = simulate(step, cfg, wl.closed_loop(rng, 32, 320, fixed(1024), fixed(2048)), 1, rng)
    later = (r.first_token - r.arrival)[np.argsort(r.arrival)][32:]
    return summarise(r), float(later.mean() * 1e3)


def test_clients_drift_apart_instead_of_prefilling_in_lock_step_waves() -> None:
    assert calib.shipped("trtllm").closed_loop_drift > 0
    lock, lock_later_ttft = _lock_step()
    got = predict(parse_row(ROW))
    # identical lifetimes keep every wave together for ever, each waiting out the wave before it
    assert got.ttft_mean_ms < 0.5 * lock_later_ttft
    assert got.ttft_mean_ms < 0.5 * lock.ttft_mean_ms
    # the decode pace and the work done are about the same: only who is prefilled with whom changes
    # (+3.0 % TPOT here: lone prefills make more steps mixed, and mixed steps run without CUDA graphs)
    assert got.tpot_mean_ms == pytest.approx(lock.tpot_mean_ms, rel=0.05)
    assert got.output_tokens_per_s * got.duration_s == pytest.approx(320 * 2048, rel=0.01)


def test_a_profile_without_drift_keeps_the_lock_step_waves() -> None:
    lock, _ = _lock_step()
    cal = replace(calib.shipped("trtllm"), closed_loop_drift=0.0)
    assert predict(parse_row(ROW), cal) == lock


def test_every_shipped_profile_drifts_or_not_by_the_one_documented_amount() -> None:
    for engine in ("vllm", "trtllm", "sglang"):
        assert calib.shipped(engine).closed_loop_drift in (0.0, calib.CLOSED_LOOP_DRIFT)


def test_the_answer_is_deterministic_for_a_seed() -> None:
    s = parse_row(ROW)
    assert predict(s) == predict(s)
