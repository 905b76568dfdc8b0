"""The attention-data-parallel + expert-parallel layout of a MoE replica (``dp-ep``).

A replica of N GPUs served as SGLang's ``--tp N --ep N --enable-dp-attention
--moe-dense-tp-size 1``, vLLM's ``--data-parallel-size N --enable-expert-parallel`` or
TensorRT-LLM's attention DP + EP: every GPU is a data-parallel rank with its own sequences, its
own KV cache and a full copy of every weight that is not a routed expert (attention, the dense FFN
layers, shared experts, embeddings, LM head: SGLang's large-scale EP blog runs all of them data
parallel); the routed experts are spread over the N GPUs, and each MoE layer sends every token's
hidden state to the GPUs holding its top-k experts (dispatch) and brings their outputs back
(combine). There is no all-reduce.

Per GPU and step, with the replica's ``tokens`` spread evenly over the N ranks:
- non-expert GEMMs on tokens / N tokens, reading all non-expert weights;
- expert GEMMs on tokens x k x imbalance / N (token, expert) pairs, reading the touched share of
  the GPU's E / N experts;
- attention over the rank's own sequences, reading their whole (unsharded) KV cache;
- per MoE layer, dispatch + combine of tokens / N x k x hidden x (dispatch + combine bytes) x the
  share of experts on other GPUs x imbalance over the link, plus one collective latency each.

Those are the coefficients of :class:`~onshore.planner.perf.roofline.StepModel`, whose step
formula stays as it is (:func:`terms`). Not modelled: two-batch overlap of communication with
computation (SGLang, DeepSeek), redundant experts' memory, DeepEP's per-node de-duplication of
cross-node traffic, and imbalance between the attention ranks.
"""

from __future__ import annotations

from dataclasses import dataclass

from onshore.planner.catalog import Gpu, Model
from onshore.planner.errors import PlannerError
from onshore.planner.perf import precision as prec
from onshore.planner.perf.links import scaleout_bytes_s

TP = "tp"
DP_EP = "dp-ep"
LAYOUTS = (TP, DP_EP)
# spellings accepted in a scenario's ``parallel`` column and ``plan size --layouts``
_ALIASES = {
    "": TP,
    "tp": TP,
    "dp-ep": DP_EP,
    "dp_ep": DP_EP,
    "dp_attention_ep": DP_EP,
    "dp-attention-ep": DP_EP,
    "dp-attn+ep": DP_EP,
}

# Slowest GPU's expert load over the mean (tokens received and computed). SGLang measured DeepSeek-V3
# prefill on 4 x 8 H100 (EP32) at 50,302 tokens/s per node with its default expert placement and
# 59,337 with a simulated perfect balance (lmsys.org/blog/2025-05-05-large-scale-ep, "Overall
# Throughput"): 1.18x. Taken as 1.2 at every EP size; the same blog's simulation shows imbalance
# growing with the number of nodes and shrinking with EPLB, neither of which is modelled.
EXPERT_IMBALANCE = 1.2
# Share of the nominal link an all-to-all achieves. DeepEP (github.com/deepseek-ai/DeepEP README,
# "Normal kernels", DeepSeek-V3 shapes: hidden 7168, top-8, FP8 dispatch, BF16 combine) measures
# 153 / 158 GB/s dispatch / combine within a node on H800 (NVLink 200 GB/s per direction nominal):
# 0.77; and 43-47 GB/s across nodes on a 400 Gb/s ConnectX-7 (50 GB/s): 0.86 (the lower figure).
A2A_SCALEUP_EFF = 0.77
A2A_SCALEOUT_EFF = 0.86
# Bytes per hidden value moved: DeepEP dispatches FP8 for FP8/FP4 models and combines in BF16.
COMBINE_BYTES = 2.0


def parse(name: str) -> str:
    """The layout a ``parallel`` cell or ``--layouts`` item names (``tp`` when empty)."""
    key = name.strip().lower()
    if key not in _ALIASES:
        raise PlannerError(f"parallel layout {name!r} is not tp or dp_attention_ep (dp-ep)")
    return _ALIASES[key]


def check(model: Model, gpu: Gpu, gpus: int, layout: str) -> None:
    """Raise PlannerError unless ``gpus`` GPUs of ``gpu`` can serve ``model`` in ``layout``."""
    if layout == TP:
        if gpus < 1 or gpus > gpu.scaleup_domain:
            raise PlannerError(f"tensor_parallel {gpus} outside 1..{gpu.scaleup_domain} for {gpu.id}")
        return
    if layout != DP_EP:
        raise PlannerError(f"layout {layout!r} is not one of {', '.join(LAYOUTS)}")
    if not model.is_moe:
        raise PlannerError(
            f"dp-ep (attention data parallel + expert parallel) needs a mixture-of-experts model; "
            f"{model.id} is dense"
        )
    if gpus < 2 or gpus > model.experts:
        raise PlannerError(f"dp-ep over {gpus} GPUs: needs 2..{model.experts} ({model.experts} experts)")


def routed_active_params(model: Model) -> float:
    """Routed-expert parameters one token uses (k experts in every MoE layer)."""
    return float(model.moe_layers * model.experts_active * 3 * model.hidden * model.moe_intermediate)


def weight_params_per_gpu(model: Model, gpus: int) -> float:
    """Parameters resident on each GPU: every non-expert weight, and 1/N of the routed experts."""
    routed = model.routed_expert_params
    return model.params_total - routed + routed / gpus


def a2a_s_per_local_token(model: Model, gpu: Gpu, gpus: int, precision: str, imbalance: float) -> float:
    """Seconds one MoE layer's dispatch + combine takes per token of one rank (bandwidth term).

    Of a token's k expert copies, (N-1)/N go to other GPUs: those in the same scale-up domain over
    the scale-up link, the rest over the GPU's scale-out NIC; the two run at once, so the slower
    sets the time. A mesh without a switch (AMD Infinity Fabric) has one link per peer.
    """
    dispatch = 1.0 if prec.weight_bytes(precision) < 2 else 2.0
    sent = model.experts_active * model.hidden * (dispatch + COMBINE_BYTES) * imbalance
    domain = min(gpus, gpu.scaleup_domain)
    scaleup = gpu.scaleup_gb_s * 1e9 * A2A_SCALEUP_EFF * (1 if gpu.switched else max(domain - 1, 1))
    scaleout = scaleout_bytes_s(gpu) * A2A_SCALEOUT_EFF
    inside = sent * (domain - 1) / gpus / scaleup
    across = sent * (gpus - domain) / gpus / scaleout
    return max(inside, across)


@dataclass(frozen=True, slots=True)
class Terms:
    """The :class:`StepModel` coefficients of a dp-ep replica (same names, same units)."""

    dense_weight_bytes: float
    expert_weight_bytes: float
    linear_flops_per_token: float
    attn_flops_per_pair_full: float
    attn_flops_per_pair_swa: float
    kv_bytes_per_pos_full: float
    kv_bytes_per_pos_swa: float
    comm_count: int
    comm_s_per_token: float  # per token of the whole replica, per collective
    link_bytes_s: float
    token_share: float  # a rank's share of the step's tokens and sequences


def terms(
    model: Model, gpu: Gpu, gpus: int, precision: str, kv_value_bytes: float, imbalance: float
) -> Terms:
    """Coefficients for a dp-ep replica of ``gpus`` GPUs (see the module docstring)."""
    wb = prec.weight_bytes(precision)
    n = float(gpus)
    lm_head = float(model.vocab * model.hidden)
    routed_active = 2.0 * routed_active_params(model)
    non_expert = 2.0 * (model.params_active - model.embedding_params - lm_head) - routed_active
    kv_pos = model.kv_values_per_token_layer * kv_value_bytes / n  # a rank reads its own sequences
    per_local_token = a2a_s_per_local_token(model, gpu, gpus, precision, imbalance)
    # two collectives (dispatch, combine) per MoE layer; the formula charges count x s x tokens
    return Terms(
        dense_weight_bytes=model.dense_params * wb,
        expert_weight_bytes=model.routed_expert_params * wb / n,
        linear_flops_per_token=non_expert + routed_active * imbalance,
        attn_flops_per_pair_full=2.0 * model.attn_flop_width * model.full_attention_layers / n,
        attn_flops_per_pair_swa=2.0 * model.attn_flop_width * model.sliding_layers / n,
        kv_bytes_per_pos_full=kv_pos * model.full_attention_layers,
        kv_bytes_per_pos_swa=kv_pos * model.sliding_layers,
        comm_count=2 * model.moe_layers,
        comm_s_per_token=per_local_token / (2.0 * n),
        link_bytes_s=gpu.scaleup_gb_s * 1e9 * A2A_SCALEUP_EFF,
        token_share=1.0 / n,
    )
