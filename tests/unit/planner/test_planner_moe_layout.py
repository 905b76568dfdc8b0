"""Attention data parallel + expert parallel (dp-ep) layouts for MoE models."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from onshore.planner.catalog import gpu, model
from onshore.planner.demand import UserDemand, from_users
from onshore.planner.errors import PlannerError
from onshore.planner.executor import SerialExecutor
from onshore.planner.perf import moe_layout
from onshore.planner.perf.calibration import Calibration
from onshore.planner.perf.kv import kv_bytes_per_token, kv_capacity_tokens, weight_gib_per_gpu
from onshore.planner.perf.roofline import GIB, ReplicaSpec, StepModel
from onshore.planner.predict import parse_row, predict_metrics
from onshore.planner.sizing import Slo, default_candidates, size

CAL = Calibration(step_ms=1.5, seq_us=20.0)  # fixed, so a refit of the shipped file changes nothing
DSV3 = model("deepseek-v3")


def _dp_ep(g: str, gpus: int, precision: str = "fp8") -> ReplicaSpec:
    return ReplicaSpec(DSV3, gpu(g), gpus, precision, layout=moe_layout.DP_EP)


@pytest.mark.parametrize(
    ("g", "gpus", "inside_s_per_byte", "across_s_per_byte"),
    [
        # 8 H100s: 7/8 of a token's expert copies go to other GPUs, all over NVLink (450 GB/s x 0.77)
        ("h100", 8, 7 / 8 / (450e9 * 0.77), 0.0),
        # 16 H100s on two nodes: 7/16 over NVLink, 8/16 over a 400 Gb/s NIC (50 GB/s x 0.86)
        ("h100", 16, 7 / 16 / (450e9 * 0.77), 8 / 16 / (50e9 * 0.86)),
    ],
)
def test_all_to_all_time_by_hand(
    g: str, gpus: int, inside_s_per_byte: float, across_s_per_byte: float
) -> None:
    step = StepModel.build(_dp_ep(g, gpus), CAL)
    tokens = 256.0 * gpus  # 256 per rank
    # per rank token and MoE layer: top-8 copies of 7,168 values, FP8 dispatch + BF16 combine,
    # the busiest GPU 1.2x the mean
    sent = 8 * 7168 * (1 + 2) * 1.2
    per_layer = sent * max(inside_s_per_byte, across_s_per_byte) * 256
    by_hand = 58 * (2 * CAL.allreduce_us * 1e-6 + per_layer)  # 58 MoE layers, 2 collectives each
    no_comm = dataclasses.replace(step, allreduce_count=0)
    args = (tokens, tokens, tokens * 2000, 0.0, tokens * 2000, 0.0)
    measured = float(step.step_time(*args)) - float(no_comm.step_time(*args))
    assert measured == pytest.approx(by_hand, rel=1e-9)


def test_dp_attention_holds_more_kv_than_tp_for_mla() -> None:
    tp = ReplicaSpec(DSV3, gpu("h200"), 8, "fp8")
    dp = _dp_ep("h200", 8)
    # MLA caches one latent "head": under TP8 every GPU holds all of it, so the replica caches
    # what one GPU's free memory holds
    free_tp = 141 * 0.9 - 3.5 - DSV3.params_total / 8 / GIB
    assert kv_capacity_tokens(tp) == int(free_tp * GIB / kv_bytes_per_token(tp))
    # dp-ep: each GPU keeps attention and shared weights whole but only 1/8 of the routed experts
    assert weight_gib_per_gpu(dp) > weight_gib_per_gpu(tp)
    free_dp = 141 * 0.9 - 3.5 - weight_gib_per_gpu(dp)
    assert kv_capacity_tokens(dp) == int(free_dp * GIB * 8 / kv_bytes_per_token(dp))
    assert kv_capacity_tokens(dp) > 4 * kv_capacity_tokens(tp)


# decode steps at (batch, context) = (1, 100), (37, 2048), (256, 7000), prefill steps of 2 prompts
# of 128 and 3,000 tokens, and KV capacity, as the planner computed them before layouts existed
# (calibration CAL). DeepSeek-V3's TP capacity was 8x this before KV replication under TP was counted.
GOLDEN = {
    ("llama-3.1-70b", "h100", 4, "fp8"): (
        (0.011169469201648897, 0.013572565964690832, 0.05111462635372965),
        (0.016707240511164484, 0.2688509298527409),
        1365083,
    ),
    ("deepseek-v3", "h200", 8, "fp8"): (
        (0.004876539817777778, 0.021666688151334587, 0.05193214786793132),
        (0.029450185264250837, 0.17071717522342297),
        1383794,
    ),
    ("qwen3-30b-a3b", "h100", 2, "bf16"): (
        (0.0043650534199857855, 0.01636850413042236, 0.05565583154580485),
        (0.015535247557351563, 0.051895902774789025),
        875270,
    ),
    ("gpt-oss-120b", "b200", 8, "fp4"): (
        (0.0028082057584415585, 0.004522883602840561, 0.010281903190375929),
        (0.004475905119153072, 0.01177211125091366),
        70300985,
    ),
}


@pytest.mark.parametrize("key", list(GOLDEN))
def test_default_layout_is_bit_identical_to_tensor_parallel(key: tuple[str, str, int, str]) -> None:
    mid, g, tp, precision = key
    spec = ReplicaSpec(model(mid), gpu(g), tp, precision)
    assert spec == ReplicaSpec(model(mid), gpu(g), tp, precision, layout="tp")
    assert spec.dp_ranks == 1
    step = StepModel.build(spec, CAL)
    decode, prefill, kv = GOLDEN[key]
    got = step.decode_step(np.array([1.0, 37.0, 256.0]), np.array([100.0, 2048.0, 7000.0]))
    assert tuple(float(x) for x in got) == decode
    assert tuple(float(x) for x in step.prefill_step(np.array([128.0, 3000.0]), 2.0)) == prefill
    assert kv_capacity_tokens(spec) == kv


def test_dense_models_refuse_dp_ep() -> None:
    with pytest.raises(PlannerError, match=r"needs a mixture-of-experts model; llama-3\.1-70b is dense"):
        ReplicaSpec(model("llama-3.1-70b"), gpu("h100"), 8, "fp8", layout=moe_layout.DP_EP)
    demand = from_users(UserDemand(mau=1e5))
    cands = default_candidates(["h100"], [8], ["fp8"], [0], layouts=["tp", "dp-ep"])
    with pytest.raises(PlannerError, match=r"llama-3\.1-70b is dense: search --layouts tp"):
        size("llama-3.1-70b", demand, Slo(), cands, SerialExecutor())
    with pytest.raises(PlannerError, match="is not tp or dp_attention_ep"):
        moe_layout.parse("pipeline")


def test_dp_ep_may_span_nodes_but_tp_may_not() -> None:
    cands = default_candidates(["h100"], [1, 8, 16], ["fp8"], [0], layouts=["tp", "dp_attention_ep"])
    assert [c.label for c in cands] == [
        "h100 TP1 fp8 seqsauto",
        "h100 TP8 fp8 seqsauto",
        "h100 DP8-EP8 fp8 seqsauto",
        "h100 DP16-EP16 fp8 seqsauto",
    ]
    with pytest.raises(PlannerError, match=r"tensor_parallel 16 outside 1\.\.8"):
        ReplicaSpec(DSV3, gpu("h100"), 16, "fp8")
    with pytest.raises(PlannerError, match=r"needs 2\.\.256"):
        _dp_ep("h100", 512)


def test_tp_is_faster_alone_and_dp_ep_faster_at_scale() -> None:
    tp = StepModel.build(ReplicaSpec(DSV3, gpu("h200"), 8, "fp8"), CAL)
    dp = StepModel.build(_dp_ep("h200", 8), CAL)
    # one sequence: dp-ep reads every non-expert weight on every GPU, TP reads 1/8 of them
    assert float(tp.decode_step(1.0, 2000.0)) < float(dp.decode_step(1.0, 2000.0))
    # 1,024 sequences: TP reads the whole (replicated) MLA cache on every GPU, dp-ep an eighth
    assert float(dp.decode_step(1024.0, 2000.0)) < 0.8 * float(tp.decode_step(1024.0, 2000.0))


def test_predict_reads_the_parallel_column() -> None:
    row = {
        "model": "deepseek-v3",
        "gpu": "h200",
        "num_gpus": "8",
        "tensor_parallel": "8",
        "precision": "fp8",
        "input_len": "1000",
        "output_len": "200",
        "scenario": "concurrency",
        "load": "512",
        "engine": "sglang",
        "requests": "1024",
    }
    assert parse_row(row).parallel == "tp"
    dp = parse_row({**row, "parallel": "dp_attention_ep"})
    assert dp.parallel == moe_layout.DP_EP
    with pytest.raises(PlannerError, match="dense"):
        predict_metrics(dataclasses.replace(dp, model="llama-3.1-70b"), CAL)
    tp_tps = predict_metrics(parse_row(row), CAL)["output_tokens_per_s"]
    dp_tps = predict_metrics(dp, CAL)["output_tokens_per_s"]
    assert dp_tps > 1.2 * tp_tps


def test_sizing_over_layouts_is_deterministic_and_picks_dp_ep_at_high_load() -> None:
    demand = from_users(UserDemand(mau=3e6, prompt_mean=1000, output_mean=300))
    cands = default_candidates(["h200"], [8], ["fp8"], [0], "sglang", layouts=["tp", "dp-ep"])
    first = size("deepseek-v3", demand, Slo(2000, 100), cands, SerialExecutor(), keep=None)
    again = size("deepseek-v3", demand, Slo(2000, 100), cands, SerialExecutor(), keep=None)
    assert first.results == again.results
    by_layout = {r.candidate.layout: r for r in first.results}
    assert all(r.feasible for r in first.results)
    # the same 8 GPUs per replica sustain more requests/s laid out dp-ep, so fewer replicas
    assert by_layout["dp-ep"].rate_per_replica > by_layout["tp"].rate_per_replica
    best = first.best
    assert best is not None and best.candidate.layout == moe_layout.DP_EP
    assert best.label == "h200 DP8-EP8 fp8 seqs" + str(best.max_num_seqs)
