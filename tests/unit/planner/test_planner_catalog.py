"""Catalog rows: present, sourced, and consistent with hand-counted parameters."""

from __future__ import annotations

import pytest

from onshore.planner.catalog import gpu, load_gpus, load_models, model
from onshore.planner.errors import PlannerError

REQUIRED_GPUS = ("h100", "h200", "b200", "gb200", "mi300x", "mi325x")
REQUIRED_MODELS = (
    "llama-3.1-8b",
    "llama-3.1-70b",
    "llama-3.1-405b",
    "llama-2-70b",
    "mixtral-8x7b",
    "gpt-oss-20b",
    "gpt-oss-120b",
    "qwen3-32b",
    "qwen3-235b-a22b",
    "exaone-4.0-32b",
    "hcx-seed-think-32b",
    "deepseek-v3",
)


def test_required_rows_exist_and_cite_a_source() -> None:
    gpus, models = load_gpus(), load_models()
    for g in REQUIRED_GPUS:
        assert gpus[g].source.strip()
        assert gpus[g].bf16_tflops > 0 and gpus[g].hbm_tb_s > 0 and gpus[g].hbm_stacks > 0
    for m in REQUIRED_MODELS:
        assert models[m].source.strip()
        assert models[m].layers > 0 and models[m].hidden > 0


def _dense_count(m_id: str) -> float:
    m = model(m_id)
    q = m.heads * m.head_dim
    kv = m.kv_heads * m.head_dim
    per_layer = m.hidden * (q + 2 * kv) + q * m.hidden + 3 * m.hidden * m.intermediate
    return m.layers * per_layer + 2 * m.vocab * m.hidden


@pytest.mark.parametrize(
    "m_id",
    [
        "llama-3.1-8b",
        "llama-3.1-70b",
        "llama-3.1-405b",
        "qwen3-32b",
        "exaone-4.0-32b",
        "hcx-seed-think-32b",
        "llama-2-70b",
    ],
)
def test_dense_parameter_counts_match_the_architecture(m_id: str) -> None:
    # hand count: q/k/v/o projections + SwiGLU MLP per layer, plus untied embedding and lm_head
    assert _dense_count(m_id) == pytest.approx(model(m_id).params_total, rel=0.01)


@pytest.mark.parametrize(
    "m_id", ["mixtral-8x7b", "gpt-oss-120b", "qwen3-235b-a22b", "deepseek-v3", "qwen3-30b-a3b"]
)
def test_moe_active_parameters_are_dense_plus_k_of_e_experts(m_id: str) -> None:
    m = model(m_id)
    active = m.dense_params + m.routed_expert_params * m.experts_active / m.experts + m.embedding_params
    assert active == pytest.approx(m.params_active, rel=0.03)


def test_lookup_accepts_aliases_and_rejects_unknown_ids() -> None:
    assert gpu("H100_SXM").id == "h100"
    assert model("meta-llama/Llama-3.1-70B-Instruct").id == "llama-3.1-70b"
    with pytest.raises(PlannerError, match="unknown GPU"):
        gpu("tpu-v5")
    with pytest.raises(PlannerError, match="unknown model"):
        model("gpt-5")


def test_peak_falls_back_to_a_wider_format() -> None:
    h100 = gpu("h100")
    assert h100.peak_tflops("fp4") == h100.fp8_tflops
    assert gpu("b200").peak_tflops("fp4") == 9000
    assert gpu("a100").peak_tflops("fp8") == 312
