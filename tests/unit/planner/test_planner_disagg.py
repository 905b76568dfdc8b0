"""Disaggregated prefill/decode: KV transfer time, the two-pool simulation, predict's column, sizing."""

from __future__ import annotations

import numpy as np
import pytest

from onshore.planner import disagg
from onshore.planner.catalog import gpu, model
from onshore.planner.cost import CostInputs
from onshore.planner.demand import Demand
from onshore.planner.disagg_sizing import (
    Comparison,
    DisaggCandidate,
    DisaggJob,
    compare,
    evaluate_disagg,
    size_disagg,
)
from onshore.planner.errors import PlannerError
from onshore.planner.executor import SerialExecutor
from onshore.planner.perf import calibration as calib
from onshore.planner.perf import kv_transfer
from onshore.planner.perf.roofline import ReplicaSpec
from onshore.planner.predict import parse_row, predict
from onshore.planner.sim import simulate, summarise
from onshore.planner.sim import workload as wl
from onshore.planner.sim.lengths import fixed
from onshore.planner.sizing import Candidate, SizingJob, Slo, evaluate

SPEC = ReplicaSpec(model("llama-3.1-70b"), gpu("h100"), 4, "fp8")
CAL = calib.shipped("vllm")


def test_transfer_time_by_hand() -> None:
    # Llama 3.1 70B: 80 layers x (K and V) x 8 KV heads x 128 dims, one byte each at FP8
    per_token = 80 * 2 * 8 * 128 * 1
    assert float(kv_transfer.prompt_kv_bytes(SPEC, 1000)) == per_token * 1000 == 163_840_000
    out = kv_transfer.link(gpu("h100"), "scaleout")
    # 400 Gb/s = 50 GB/s per GPU at 48 %, four GPUs of each TP4 replica sending in parallel
    assert out.gb_s_per_lane == pytest.approx(50.0 * 0.48)
    expected = 2e-3 + 163_840_000 / (4 * 24e9)
    assert float(kv_transfer.transfer_s(SPEC, SPEC, 1000, out)) == pytest.approx(expected)
    # NVLink: 450 GB/s per direction per GPU; TP2 -> TP4 has two lanes
    up = kv_transfer.link(gpu("h100"), "auto", gpus=8)
    assert up.kind == "scaleup"
    tp2 = ReplicaSpec(SPEC.model, SPEC.gpu, 2, "fp8")
    assert float(kv_transfer.transfer_s(tp2, SPEC, 1000, up)) == pytest.approx(
        2e-3 + 163_840_000 / (2 * 450e9 * 0.48)
    )
    assert kv_transfer.link(gpu("h100"), "auto", gpus=16).kind == "scaleout"
    assert float(kv_transfer.transfer_s(SPEC, SPEC, 1000, kv_transfer.link(gpu("h100"), "none"))) == 0.0
    with pytest.raises(PlannerError):
        kv_transfer.link(gpu("h100"), "carrier-pigeon")


def test_sliding_window_layers_send_at_most_their_window() -> None:
    # gpt-oss-20b: 12 full-attention and 12 sliding (128-token window) layers, 8 KV heads x 64
    # dims x K and V = 1,024 values per token and layer, two bytes each at BF16
    spec = ReplicaSpec(model("gpt-oss-20b"), gpu("h100"), 1, "bf16")
    assert float(kv_transfer.prompt_kv_bytes(spec, 1000)) == 1024 * 2 * (12 * 1000 + 12 * 128)
    assert float(kv_transfer.prompt_kv_bytes(spec, 100)) == 1024 * 2 * (12 * 100 + 12 * 100)


def test_layout_parsing() -> None:
    assert disagg.Layout.parse("2:6", 4) == disagg.Layout(2, 4, 6, 4)
    lay = disagg.Layout.parse("2x2:1x4", 8)
    assert (lay.prefill_gpus, lay.decode_gpus, lay.gpus, lay.label) == (4, 4, 8, "2x2:1x4")
    for bad in ("2", "a:b", "2:0", "1x2x3:1", "1:2:3"):
        with pytest.raises(PlannerError):
            disagg.Layout.parse(bad, 4)


def _light_work(seed: int = 0) -> wl.Workload:
    return wl.poisson(np.random.default_rng(seed), 0.5, 200, fixed(2000), fixed(100))


def test_free_transfer_and_ample_pools_give_prefill_ttft_and_decode_tpot() -> None:
    work = _light_work()
    pre, dec = disagg.pools(SPEC, CAL, disagg.Layout(4, 4, 4, 4))
    run = disagg.simulate_disagg(pre, dec, work, kv_transfer.link(SPEC.gpu, "none"), np.random.default_rng(1))
    both = summarise(run.result)
    prefill_only = summarise(run.prefill)
    # TTFT: the prefill pool's time to its (only) token plus the decode pool's first step
    first_step_ms = float(dec.step.decode_step(1.0, 2000.0)) * 1e3
    assert prefill_only.ttft_p50_ms < both.ttft_p50_ms <= prefill_only.ttft_p50_ms + 2 * first_step_ms
    # TPOT: what the decode pool alone gives these requests, prompts pre-filled, arriving as they do
    alone = wl.Workload(work.prompt, work.output, work.arrival, cached=work.prompt - 1)
    decode_only = summarise(simulate(dec.step, dec.cfg, alone, 4, np.random.default_rng(1)))
    assert both.tpot_p50_ms == pytest.approx(decode_only.tpot_p50_ms, rel=0.02)
    assert both.tpot_p99_ms == pytest.approx(decode_only.tpot_p99_ms, rel=0.05)
    # the whole run is accounted over both pools' replicas
    assert len(run.result.busy_s) == 8 and both.requests == 200


def test_the_transfer_adds_its_time_to_ttft_only() -> None:
    work = _light_work()
    pre, dec = disagg.pools(SPEC, CAL, disagg.Layout(4, 4, 4, 4))
    free = disagg.simulate_disagg(
        pre, dec, work, kv_transfer.link(SPEC.gpu, "none"), np.random.default_rng(1)
    )
    slow = kv_transfer.KvLink("scaleout", 1.0, 0.05)  # 1 GB/s + 50 ms: 4 lanes, 328 MB -> 132 ms
    paid = disagg.simulate_disagg(pre, dec, work, slow, np.random.default_rng(1))
    added = summarise(paid.result).ttft_p50_ms - summarise(free.result).ttft_p50_ms
    assert added == pytest.approx(float(paid.transfer_s[0]) * 1e3, rel=0.1)
    assert float(paid.transfer_s[0]) == pytest.approx(0.05 + 2000 * 163_840 / 4e9)
    assert summarise(paid.result).tpot_p50_ms == pytest.approx(summarise(free.result).tpot_p50_ms, rel=0.02)


def test_disaggregated_runs_are_deterministic_for_a_seed() -> None:
    def once(seed: int) -> dict[str, float]:
        work = wl.poisson(np.random.default_rng(seed), 6.0, 300, fixed(1500), fixed(200))
        run = disagg.run_layout(
            SPEC, CAL, disagg.Layout.parse("1x2:1x4", 4), work, np.random.default_rng(seed)
        )
        return summarise(run.result).as_dict()

    assert once(3) == once(3)
    assert once(3) != once(4)


def test_predict_serves_a_disaggregated_scenario() -> None:
    row = {
        "model": "llama-3.1-70b",
        "gpu": "h100",
        "num_gpus": "8",
        "tensor_parallel": "4",
        "precision": "fp8",
        "input_len": "3000",
        "output_len": "150",
        "scenario": "rate",
        "load": "4",
        "requests": "300",
    }
    agg = predict(parse_row(row))
    dis = predict(parse_row({**row, "disaggregated": "2x2:1x4"}))
    # the same 8 GPUs: decode free of prefill chunks, prefill on smaller TP2 replicas
    assert dis.tpot_p99_ms < agg.tpot_p99_ms
    assert dis.ttft_p50_ms > agg.ttft_p50_ms
    with pytest.raises(PlannerError, match="num_gpus"):
        parse_row({**row, "disaggregated": "2:2"})
    with pytest.raises(PlannerError, match="rate or offline"):
        parse_row({**row, "disaggregated": "1:1", "scenario": "concurrency"})


def _gpus_needed(isl: int, osl: int, slo: Slo) -> tuple[int, int]:
    """GPUs of the best aggregated and the best disaggregated fleet (Llama 70B FP8 on H100)."""
    demand = Demand(1e6, 50.0, 100.0, fixed(isl), fixed(osl))
    agg = [
        evaluate(
            SizingJob("llama-3.1-70b", Candidate("h100", tp, "fp8"), demand, slo, CostInputs(), requests=600)
        )
        for tp in (2, 4)
    ]
    dis = [
        evaluate_disagg(
            DisaggJob("llama-3.1-70b", DisaggCandidate("h100", "fp8", tp_p, 4), demand, slo, requests=600)
        )
        for tp_p in (2, 4)
    ]
    best_agg = min(r.replicas * r.candidate.tp for r in agg if r.feasible)
    best_dis = min(r.layout.gpus for r in dis if r.feasible and r.layout)
    return best_agg, best_dis


def test_prefill_heavy_traffic_under_a_tight_tpot_prefers_disaggregation() -> None:
    # 3,000-token prompts: an aggregated replica's decodes share steps with prefill chunks of up to
    # the token budget, so a 25 ms TPOT holds only at low load; a decode pool never sees a chunk
    agg, dis = _gpus_needed(3000, 150, Slo(ttft_p99_ms=2000, tpot_p99_ms=25))
    assert dis < agg


def test_decode_heavy_traffic_with_loose_latency_gains_nothing_from_disaggregation() -> None:
    # 200-token prompts are a sliver of each step: splitting them out frees almost no decode time,
    # and the prefill pool is GPUs the aggregated fleet does not need
    agg, dis = _gpus_needed(200, 1000, Slo(ttft_p99_ms=5000, tpot_p99_ms=100))
    assert dis >= agg


def test_compare_sizes_both_ways_and_is_deterministic() -> None:
    demand = Demand(1e6, 25.0, 50.0, fixed(3000), fixed(150))
    slo = Slo(ttft_p99_ms=2000, tpot_p99_ms=25)

    def once() -> Comparison:
        return compare(
            "llama-3.1-70b",
            demand,
            slo,
            [Candidate("h100", 4, "fp8")],
            [DisaggCandidate("h100", "fp8", 2, 4), DisaggCandidate("h100", "fp8", 4, 4, link="scaleup")],
            SerialExecutor(),
            objective="gpus",
        )

    first = once()
    assert first.aggregated is not None and first.disaggregated is not None
    assert first.disaggregated.layout is not None and first.disaggregated.cost is not None
    assert first.disaggregated.cost.gpus == first.disaggregated.layout.gpus
    assert first.gain == pytest.approx(first.aggregated.replicas * 4 / first.disaggregated.layout.gpus)
    assert first.gain > 1.0
    second = once()
    assert second.disaggregated == first.disaggregated
    assert second.aggregated is not None and second.aggregated.replicas == first.aggregated.replicas
    with pytest.raises(PlannerError, match="objective"):
        size_disagg("llama-3.1-70b", demand, slo, [], SerialExecutor(), objective="joy")
