"""Simulator invariants and small cases checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from onshore.planner.catalog import gpu, model
from onshore.planner.errors import PlannerError
from onshore.planner.perf.calibration import Calibration
from onshore.planner.perf.kv import kv_capacity_blocks
from onshore.planner.perf.roofline import ReplicaSpec, StepModel
from onshore.planner.sim import EngineConfig, LengthDist, closed_loop, offline, poisson, simulate, summarise
from onshore.planner.sim.workload import offline_in_flight

CAL = Calibration(request_ms=10.0)
SPEC = ReplicaSpec(model("llama-3.1-8b"), gpu("h100"), 1, "fp8")
STEP = StepModel.build(SPEC, CAL)
CFG = EngineConfig(kv_blocks=kv_capacity_blocks(SPEC), max_num_seqs=128)


def _poisson(seed: int, n: int = 3000, rate: float = 120.0, replicas: int = 4):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    wl = poisson(rng, rate, n, LengthDist(800, 0.8, 1, 8000), LengthDist(200, 0.7, 1, 4000))
    return simulate(STEP, CFG, wl, replicas, rng)


def test_every_request_finishes_in_order_of_its_events() -> None:
    res = _poisson(1)
    assert not np.isnan(res.first_token).any() and not np.isnan(res.finish).any()
    assert (res.first_token > res.arrival).all()
    assert (res.finish >= res.first_token).all()


def test_same_seed_same_result_and_another_seed_differs() -> None:
    a, b, c = _poisson(5), _poisson(5), _poisson(6)
    np.testing.assert_array_equal(a.finish, b.finish)
    np.testing.assert_array_equal(a.first_token, b.first_token)
    assert not np.array_equal(a.finish, c.finish)


def test_littles_law_holds() -> None:
    res = _poisson(2, n=6000, rate=150.0)
    s = summarise(res)
    # L = lambda * W, where L is the time-average number of requests held by the engines
    engine_wait = (res.finish - res.arrival - CAL.request_ms * 1e-3).mean()
    assert s.mean_in_system == pytest.approx(s.requests_per_s * engine_wait, rel=0.05)


def test_kv_cache_never_overflows_even_when_it_must_preempt() -> None:
    small = EngineConfig(kv_blocks=400, max_num_seqs=64)  # 6,400 tokens: forces preemption
    rng = np.random.default_rng(3)
    wl = offline(rng, 200, LengthDist(300, 0.5, 1, 2000), LengthDist(300, 0.5, 1, 2000))
    res = simulate(STEP, small, wl, 1, rng)
    assert res.preemptions > 0
    assert res.max_kv_blocks_used <= small.kv_blocks
    assert not np.isnan(res.finish).any()


def test_throughput_never_exceeds_the_roofline_bound() -> None:
    rng = np.random.default_rng(4)
    wl = offline(rng, 2000, LengthDist(100), LengthDist(300))
    res = simulate(STEP, CFG, wl, 2, rng)
    # each step yields at most max_num_seqs tokens and lasts at least the weight-streaming time
    floor = STEP.fixed_s + STEP.dense_weight_bytes / STEP.mem_bw
    bound = 2 * CFG.max_num_seqs / floor
    assert summarise(res).output_tokens_per_s <= bound


def test_single_request_matches_the_step_model_by_hand() -> None:
    rng = np.random.default_rng(0)
    wl = offline(rng, 1, LengthDist(1000), LengthDist(50))
    s = summarise(simulate(STEP, CFG, wl, 1, rng))
    ttft = CAL.request_ms + float(STEP.prefill_step(1000.0)) * 1e3
    # 49 decode steps at contexts 1000 .. 1048 (the mid-point costs the linear attention term exactly)
    tpot = np.mean([float(STEP.decode_step(1.0, 1000.0 + k)) for k in range(49)]) * 1e3
    assert s.ttft_p50_ms == pytest.approx(ttft, rel=0.02)
    assert s.tpot_mean_ms == pytest.approx(tpot, rel=0.02)


def test_closed_loop_of_one_client_serves_requests_back_to_back() -> None:
    rng = np.random.default_rng(0)
    wl = closed_loop(rng, 1, 5, LengthDist(200), LengthDist(20))
    res = simulate(STEP, CFG, wl, 1, rng)
    order = np.argsort(res.arrival)
    np.testing.assert_allclose(res.arrival[order][1:], res.finish[order][:-1])


def test_chunked_prefill_respects_the_token_budget() -> None:
    rng = np.random.default_rng(0)
    cfg = EngineConfig(kv_blocks=CFG.kv_blocks, max_num_seqs=8, max_batched_tokens=512)
    wl = offline(rng, 1, LengthDist(2048), LengthDist(2))
    s = summarise(simulate(STEP, cfg, wl, 1, rng))
    # 2048 prompt tokens at 512 per step: four prefill steps before the first token
    four = 4 * float(STEP.step_time(512.0, 1.0, 0.0, 0.0, 0.0, 0.0))
    assert s.ttft_p50_ms > four * 1e3


def test_request_larger_than_the_cache_is_rejected() -> None:
    rng = np.random.default_rng(0)
    wl = offline(rng, 1, LengthDist(5000), LengthDist(10))
    with pytest.raises(PlannerError, match="does not fit"):
        simulate(STEP, EngineConfig(kv_blocks=100), wl, 1, rng)


def test_a_stopped_run_finishes_its_first_requests_as_the_whole_run_does() -> None:
    rng = np.random.default_rng(2)
    work = offline(rng, 600, LengthDist(800, 0.8, 1, 8000), LengthDist(200, 0.7, 1, 4000))
    full = simulate(STEP, CFG, work, 2, np.random.default_rng(0))
    part = simulate(STEP, CFG, work, 2, np.random.default_rng(0), stop_after=300)
    done = np.isfinite(part.finish)
    assert 300 <= done.sum() < 600  # it stops at the step where the 300th finishes
    np.testing.assert_array_equal(part.finish[done], full.finish[done])
    for r in (0, 1):  # each replica's first (replicas keep their own clocks, in lock-step by step)
        mine = full.replica == r
        assert full.finish[done & mine].max() <= full.finish[~done & mine].min()


def test_requests_in_flight_are_part_way_through_decoding_and_the_rest_are_new() -> None:
    rng = np.random.default_rng(4)
    work = offline_in_flight(rng, 2000, 500, LengthDist(200), LengthDist(100), prefix_hit_rate=0.5)
    live, new = slice(0, 2000), slice(2000, 2500)
    done = work.prompt[live] - 200  # tokens already generated, now context in the prefix cache
    assert work.cached is not None
    np.testing.assert_array_equal(work.cached[live], work.prompt[live] - 1)
    np.testing.assert_array_equal(done + work.output[live], 100)
    assert done.min() == 0 and done.max() == 99  # caught anywhere in its decode, uniformly
    assert abs(done.mean() - 49.5) < 2.0
    assert (work.prompt[new] == 200).all() and (work.output[new] == 100).all()
    assert (work.cached[new] == 96).all()  # half of 200 tokens, in whole 16-token blocks
    assert (work.arrival == 0).all()


def test_requests_in_flight_are_drawn_in_proportion_to_their_length() -> None:
    rng = np.random.default_rng(4)
    output = LengthDist(100.0, 1.0, 1, 100_000)
    work = offline_in_flight(rng, 20_000, 1, LengthDist(10), output)
    lengths = (work.prompt - 10 + work.output)[:-1]  # generated + left = the full output
    # length-biased log-normal: mean E[O^2]/E[O] = 100 * exp(sigma^2) = 272
    assert abs(lengths.mean() / (100.0 * np.exp(1.0)) - 1.0) < 0.05
