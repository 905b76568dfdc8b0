"""The step-time model and KV capacity against hand calculations."""

from __future__ import annotations

from dataclasses import replace

import pytest

from onshore.planner.catalog import gpu, model
from onshore.planner.errors import PlannerError
from onshore.planner.perf import precision
from onshore.planner.perf.calibration import Calibration
from onshore.planner.perf.kv import GIB, kv_capacity_tokens, weight_gib_per_gpu
from onshore.planner.perf.roofline import ReplicaSpec, StepModel

CAL = Calibration(
    mem_eff=0.8,
    compute_eff=0.5,
    half_tokens=64.0,
    attn_eff=0.5,
    layer_us=10.0,
    allreduce_us=10.0,
    comm_eff=0.5,
    step_ms=2.0,
    seq_us=10.0,
    request_ms=10.0,
)


def _step(m: str, g: str, tp: int, p: str) -> StepModel:
    return StepModel.build(ReplicaSpec(model(m), gpu(g), tp, p), CAL)


def test_decode_batch_one_is_weight_streaming_plus_overheads() -> None:
    sm = _step("llama-3.1-8b", "h100", 1, "fp8")
    m = model("llama-3.1-8b")
    weights = m.dense_params * 1.0 / (3.35e12 * 0.8)
    kv = 1000 * 2048 * 1.0 * 32 / (3.35e12 * 0.8)  # 1000 positions x 2048 values x 1 B x 32 layers
    fixed = 32 * 10e-6 + 2e-3 + 10e-6
    assert float(sm.decode_step(1.0, 1000.0)) == pytest.approx(weights + kv + fixed, rel=1e-6)


def test_long_prefill_is_compute_bound() -> None:
    sm = _step("llama-3.1-70b", "h200", 1, "fp8")
    m = model("llama-3.1-70b")
    tokens = 8192.0
    lm_head = m.vocab * m.hidden
    gemm = 2 * (m.params_active - m.embedding_params - lm_head) * tokens + 2 * lm_head
    eff = 0.5 * tokens / (tokens + 64)
    attn = 2 * 16384 * 80 * tokens * tokens / 2
    expected = gemm / (1979e12 * eff) + attn / (989e12 * 0.5) + 80 * 10e-6 + 2e-3 + 10e-6
    assert float(sm.prefill_step(tokens)) == pytest.approx(expected, rel=1e-6)


def test_tensor_parallel_adds_ring_all_reduce() -> None:
    four = _step("llama-3.1-70b", "h100", 4, "fp8")
    assert four.allreduce_count == 160  # two per layer
    per_token = 2 * 3 / 4 * 8192 * 2 / (450e9 * 0.5)
    assert four.allreduce_bytes_per_token == pytest.approx(per_token)
    no_tp = _step("llama-3.1-70b", "h200", 1, "fp8")
    assert no_tp.allreduce_count == 0


def test_mi300x_all_reduce_uses_one_link_per_peer() -> None:
    sm = _step("llama-3.1-70b", "mi300x", 8, "fp8")
    assert sm.allreduce_bw == pytest.approx(64e9 * 0.5 * 7)


def test_moe_reads_only_the_experts_a_batch_touches() -> None:
    sm = _step("mixtral-8x7b", "h100", 2, "fp8")
    m = model("mixtral-8x7b")
    # one token touches 2 of 8 experts: a quarter of the expert weights
    gemm_bytes = (m.dense_params + m.routed_expert_params * 0.25) / 2
    t1 = float(sm.step_time(1.0, 1.0, 0.0, 0.0, 0.0, 0.0))
    comm = 64 * (10e-6 + sm.allreduce_bytes_per_token)
    assert t1 == pytest.approx(gemm_bytes / (3.35e12 * 0.8) + comm + 32 * 10e-6 + 2e-3 + 10e-6, rel=1e-6)
    # a large batch touches every expert
    assert float(sm.decode_step(512.0, 10.0)) > t1


def test_step_time_grows_with_context_and_batch() -> None:
    sm = _step("qwen3-32b", "h100", 2, "bf16")
    assert float(sm.decode_step(32.0, 8000.0)) > float(sm.decode_step(32.0, 1000.0))
    assert float(sm.decode_step(64.0, 1000.0)) > float(sm.decode_step(8.0, 1000.0))


def test_kv_capacity_by_hand() -> None:
    spec = ReplicaSpec(model("llama-3.1-8b"), gpu("h100"), 1, "fp8")
    free = 80 * 0.9 - 3.5 - 8.03e9 * 1.0 / GIB
    assert weight_gib_per_gpu(spec) == pytest.approx(8.03e9 / GIB)
    assert kv_capacity_tokens(spec) == int(free * GIB / (2048 * 32))


def test_model_that_does_not_fit_is_a_planner_error() -> None:
    with pytest.raises(PlannerError, match="does not fit"):
        kv_capacity_tokens(ReplicaSpec(model("llama-3.1-405b"), gpu("h100"), 1, "fp8"))


def test_precision_table_and_validation() -> None:
    assert precision.weight_bytes("bf16") == 2.0
    assert precision.weight_bytes("nvfp4") == pytest.approx(0.5625)
    assert precision.compute_format("int4") == "bf16"
    assert precision.default_kv_bytes("fp8") == 1.0
    with pytest.raises(PlannerError):
        precision.check("fp3")
    with pytest.raises(PlannerError, match="tensor_parallel"):
        ReplicaSpec(model("llama-3.1-8b"), gpu("h100"), 16, "fp8")


def test_a_decode_step_within_the_cuda_graph_batch_pays_graph_frac_of_the_layer_latency() -> None:
    spec = ReplicaSpec(model("llama-3.1-70b"), gpu("h100"), 4, "fp8")
    eager = StepModel.build(spec, CAL)
    graphs = StepModel.build(spec, replace(CAL, graph_frac=0.25), graph_batch=128)
    saving = 80 * 10e-6 * 0.75  # 80 layers x layer_us 10 x (1 - 0.25)
    assert float(graphs.decode_step(128.0, 1000.0)) == pytest.approx(
        float(eager.decode_step(128.0, 1000.0)) - saving
    )
    # past the graph batch, and any step with a prompt in it, runs eagerly
    assert float(graphs.decode_step(129.0, 1000.0)) == pytest.approx(float(eager.decode_step(129.0, 1000.0)))
    assert float(graphs.prefill_step(512.0)) == pytest.approx(float(eager.prefill_step(512.0)))
    # graph_frac 1 (every profile fitted before graphs were modelled): nothing changes
    same = StepModel.build(spec, CAL, graph_batch=128)
    assert float(same.decode_step(8.0, 100.0)) == float(eager.decode_step(8.0, 100.0))
