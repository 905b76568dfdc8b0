"""KV-cache capacity of one replica, and so the largest batch that fits."""

from __future__ import annotations

from onshore.planner.errors import PlannerError
from onshore.planner.perf import moe_layout
from onshore.planner.perf import precision as prec
from onshore.planner.perf.roofline import GIB, ReplicaSpec

BLOCK_TOKENS = 16  # vLLM's default KV block size


def weight_gib_per_gpu(spec: ReplicaSpec) -> float:
    """Weights resident on each GPU (everything, embeddings included), GiB.

    Under dp-ep every non-expert weight is on every GPU and the routed experts are split.
    """
    if spec.layout == moe_layout.DP_EP:
        params = moe_layout.weight_params_per_gpu(spec.model, spec.tp)
        return params * prec.weight_bytes(spec.precision) / GIB
    return spec.model.params_total * prec.weight_bytes(spec.precision) / spec.tp / GIB


def kv_copies_split(spec: ReplicaSpec) -> int:
    """Over how many GPUs a token's KV cache is divided (the rest of the replica's GPUs hold copies).

    Tensor parallelism splits KV heads, so with fewer KV heads than GPUs each head is replicated:
    MLA (DeepSeek-V3: one latent "head") is held whole by every GPU of a TP group. Under dp-ep each
    GPU holds the whole KV of its own sequences, so the replica's GPUs add up.
    """
    if spec.layout == moe_layout.DP_EP:
        return spec.tp
    return min(spec.tp, max(spec.model.kv_heads, 1))


def kv_bytes_per_token(spec: ReplicaSpec) -> float:
    """Bytes of KV cache one token of context occupies across the replica (full-attention layers).

    Sliding-window layers hold at most ``sliding_window`` tokens per sequence; the simulator
    charges them per sequence (:func:`kv_block_overhead_per_seq`), not per token.
    """
    m = spec.model
    return float(m.kv_values_per_token_layer * spec.kv_value_bytes * m.full_attention_layers)


def kv_block_overhead_per_seq(spec: ReplicaSpec) -> int:
    """Blocks a sequence's sliding-window layers hold, in full-layer block equivalents."""
    m = spec.model
    if not m.sliding_layers or not m.full_attention_layers:
        return 0
    return int(-(-m.sliding_window * m.sliding_layers // (BLOCK_TOKENS * m.full_attention_layers)))


def kv_capacity_tokens(
    spec: ReplicaSpec, mem_util: float = 0.9, reserve_gib: float = 3.5, of_free: bool = False
) -> int:
    """Tokens of context the replica can cache.

    ``mem_util`` is the engine's share of memory: of the whole GPU, the vLLM way
    (``gpu_memory_utilization``: ``HBM x 0.9 - reserve - weights``), or with ``of_free`` of what
    the weights and ``reserve_gib`` leave, the TensorRT-LLM way (``free_gpu_memory_fraction``).
    ``reserve_gib`` covers activations, CUDA graphs and NCCL buffers per GPU (AIConfigurator
    reserves ~0.35 GB NCCL + ~3.5 GB other).
    """
    hbm, weights = spec.gpu.hbm_gb, weight_gib_per_gpu(spec)
    free_gib = (hbm - reserve_gib - weights) * mem_util if of_free else hbm * mem_util - reserve_gib - weights
    if free_gib <= 0:
        raise PlannerError(
            f"{spec.model.id} at {spec.precision} does not fit on {spec.tp} x {spec.gpu.id} "
            f"({weight_gib_per_gpu(spec):.1f} GiB weights per GPU)"
        )
    per_token = kv_bytes_per_token(spec)
    return int(free_gib * GIB * kv_copies_split(spec) / per_token)


def kv_capacity_blocks(
    spec: ReplicaSpec, mem_util: float = 0.9, reserve_gib: float = 3.5, of_free: bool = False
) -> int:
    """Capacity in blocks of :data:`BLOCK_TOKENS` tokens."""
    return kv_capacity_tokens(spec, mem_util, reserve_gib, of_free) // BLOCK_TOKENS


def fits(spec: ReplicaSpec, mem_util: float = 0.9, reserve_gib: float = 3.5) -> bool:
    """Whether the weights fit with room for at least one block per GPU."""
    try:
        return kv_capacity_blocks(spec, mem_util, reserve_gib) > 0
    except PlannerError:
        return False
