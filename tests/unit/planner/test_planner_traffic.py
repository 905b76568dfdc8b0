"""Traffic with a shape: prefix-cache hits in the simulator, multi-turn chat, dataset scenarios."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from onshore.planner import traffic
from onshore.planner.catalog import gpu, model
from onshore.planner.demand import UserDemand, from_users
from onshore.planner.errors import PlannerError
from onshore.planner.perf.calibration import Calibration
from onshore.planner.perf.kv import BLOCK_TOKENS, kv_capacity_blocks
from onshore.planner.perf.roofline import ReplicaSpec, StepModel
from onshore.planner.predict import Scenario, parse_row, predict
from onshore.planner.sim import EngineConfig, LengthDist, offline, poisson, simulate, summarise
from onshore.planner.sim.chat import chat
from onshore.planner.sim.lengths import fixed
from onshore.planner.sim.workload import with_prefix_hits

CAL = Calibration(request_ms=10.0)
SPEC = ReplicaSpec(model("llama-3.1-8b"), gpu("h100"), 1, "fp8")
STEP = StepModel.build(SPEC, CAL)
CFG = EngineConfig(kv_blocks=kv_capacity_blocks(SPEC), max_num_seqs=128)
ROW = {
    "model": "llama-3.1-8b",
    "gpu": "h100",
    "num_gpus": "1",
    "tensor_parallel": "1",
    "precision": "fp8",
    "input_len": "871",
    "output_len": "128",
    "scenario": "rate",
    "load": "12",
    "requests": "1500",
}


def _run(row: dict[str, str]) -> dict[str, float]:
    return predict(parse_row(row)).as_dict()


def test_hit_rate_zero_is_todays_simulation_to_the_bit() -> None:
    for kind, load in (("rate", "12"), ("offline", ""), ("concurrency", "16")):
        plain = {**ROW, "scenario": kind, "load": load, "requests": "600"}
        assert _run(plain) == _run({**plain, "prefix_cache_hit_rate": "0"})
    rng_a, rng_b = np.random.default_rng(9), np.random.default_rng(9)
    a = poisson(rng_a, 60.0, 800, LengthDist(900, 0.8), LengthDist(150, 0.6))
    b = poisson(rng_b, 60.0, 800, LengthDist(900, 0.8), LengthDist(150, 0.6))
    b = replace(b, cached=np.zeros(b.n, dtype=np.int64))
    ra, rb = simulate(STEP, CFG, a, 2, rng_a), simulate(STEP, CFG, b, 2, rng_b)
    np.testing.assert_array_equal(ra.first_token, rb.first_token)
    np.testing.assert_array_equal(ra.finish, rb.finish)


def test_a_cached_prefix_is_not_prefilled_but_holds_its_kv() -> None:
    rng = np.random.default_rng(0)
    work = with_prefix_hits(offline(rng, 1, LengthDist(1000), LengthDist(20)), 0.5)
    hit = int(work.cached[0]) if work.cached is not None else 0
    assert hit == 496  # 500 rounded down to whole 16-token blocks
    cached_run = simulate(STEP, CFG, work, 1, rng)
    plain_run = simulate(STEP, CFG, replace(work, cached=None), 1, rng)
    new = 1000.0 - hit
    # one prefill step of the 504 new tokens, each attending to the 496 cached ones before it
    step = STEP.step_time(new, 1.0, new * hit + new * (new + 1) / 2, 0.0, 1000.0, 0.0)
    assert summarise(cached_run).ttft_p50_ms == pytest.approx(CAL.request_ms + float(step) * 1e3, rel=0.02)
    assert cached_run.max_kv_blocks_used == plain_run.max_kv_blocks_used
    assert summarise(cached_run).ttft_p50_ms < summarise(plain_run).ttft_p50_ms


def test_hits_round_down_to_blocks_and_leave_the_last_token_to_compute() -> None:
    work = offline(np.random.default_rng(0), 4, LengthDist(40), LengthDist(5))
    work = replace(work, prompt=np.array([1, 15, 40, 1000], dtype=np.int64))
    cached = with_prefix_hits(work, 1.0).cached
    assert cached is not None
    assert cached.tolist() == [0, 0, 32, 992]
    assert (cached % BLOCK_TOKENS == 0).all()
    with pytest.raises(PlannerError):
        with_prefix_hits(work, 1.5)
    with pytest.raises(PlannerError, match="shorter"):
        replace(work, cached=work.prompt.copy())


def test_more_hits_lower_ttft_and_raise_throughput_when_prefill_dominates() -> None:
    heavy = {**ROW, "model": "llama-3.1-70b", "num_gpus": "2", "tensor_parallel": "2", "output_len": "16"}
    heavy["input_len"] = "6000"
    rates = ("0", "0.5", "0.9")
    offline_tps = [
        _run({**heavy, "scenario": "offline", "load": "", "requests": "300", "prefix_cache_hit_rate": h})
        for h in rates
    ]
    online = [_run({**heavy, "load": "2", "requests": "400", "prefix_cache_hit_rate": h}) for h in rates]
    tps = [r["output_tokens_per_s"] for r in offline_tps]
    assert tps[0] < tps[1] < tps[2] and tps[2] > 3 * tps[0]
    for q in ("ttft_p50_ms", "ttft_p99_ms"):
        assert online[0][q] > online[1][q] > online[2][q]


def test_chat_turns_resend_their_history_so_the_hit_rate_follows() -> None:
    work = chat(np.random.default_rng(1), 12.0, 2000, 4, fixed(200), fixed(300), think_s=20.0)
    assert work.cached is not None and work.arrival is not None
    # turn k's prompt: the previous prompt + the previous answer + a new 200-token message
    assert sorted(set(work.prompt.tolist())) == [200, 700, 1200, 1700]
    assert ((work.prompt - 200) // 16 * 16 == work.cached).all()
    expected = sum(p // 16 * 16 for p in (0, 500, 1000, 1500)) / (200 + 700 + 1200 + 1700)
    assert work.prefix_hit_rate == pytest.approx(expected, rel=0.05)
    assert work.n / work.arrival[-1] == pytest.approx(12.0, rel=0.1)  # the steady state, not a ramp


def test_chat_history_past_the_context_is_cut_and_misses() -> None:
    work = chat(np.random.default_rng(2), 5.0, 400, 6, fixed(300), fixed(300), max_context=1400)
    assert work.cached is not None
    assert work.prompt.max() == 1400
    assert (work.cached[work.prompt == 1400] == 0).all() and (work.cached[work.prompt == 900] > 0).all()


def test_a_dataset_scenario_has_the_constants_means_but_a_heavier_ttft_tail() -> None:
    const = _run(ROW)
    shaped_row = {**ROW, "dataset": "cnn-dailymail", "input_len": "", "output_len": ""}
    s = parse_row(shaped_row)
    assert (s.input_len, s.output_len) == (871, 128)  # reported as the profile's means
    shaped = _run(shaped_row)
    assert shaped["output_tokens_per_s"] == pytest.approx(const["output_tokens_per_s"], rel=0.03)
    assert shaped["ttft_p99_ms"] > 1.1 * const["ttft_p99_ms"]
    wide = _run({**ROW, "input_dist": "lognormal:mean=871,sigma=1.2"})
    assert wide["ttft_p99_ms"] > shaped["ttft_p99_ms"]


def test_scenario_shape_columns_are_checked() -> None:
    with pytest.raises(PlannerError, match="either dataset"):
        parse_row({**ROW, "dataset": "openorca", "input_dist": "lognormal:mean=9,sigma=1"})
    with pytest.raises(PlannerError, match="needs scenario rate"):
        parse_row({**ROW, "scenario": "offline", "chat_turns": "3"})
    with pytest.raises(PlannerError, match="follows from the turns"):
        parse_row({**ROW, "chat_turns": "3", "prefix_cache_hit_rate": "0.5"})
    with pytest.raises(PlannerError, match="output_len"):
        parse_row({k: v for k, v in {**ROW, "input_dist": "500"}.items() if k != "output_len"})
    assert isinstance(parse_row(ROW), Scenario) and not parse_row(ROW).shape.shaped


def test_sizing_demand_takes_the_profile_and_the_hit_rate() -> None:
    base = from_users(UserDemand())
    shaped = traffic.reshape(base, traffic.Shape(dataset="openorca", prefix_cache_hit_rate=0.4))
    assert shaped.prompt.kind == "empirical" and shaped.prefix_hit_rate == 0.4
    assert shaped.peak_rps == base.peak_rps and shaped.scaled(2.0).prefix_hit_rate == 0.4
    assert shaped.peak_input_tokens_per_s == pytest.approx(base.peak_rps * 222.33, rel=0.002)
    with pytest.raises(PlannerError):
        traffic.reshape(base, traffic.Shape(chat_turns=3))
