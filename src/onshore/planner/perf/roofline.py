"""Step time of one engine replica (a tensor-parallel group) for one scheduler step.

A per-operator roofline (GenZ-style) with efficiencies that depend on shape, plus the terms pure
rooflines miss (planner-anchors.md section 3): per-layer fixed latency, all-reduce latency and
bandwidth, per-step and per-sequence host overhead. Every function is pure and accepts numpy
arrays so the simulator can cost many replicas' steps in one call.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from onshore.planner.catalog import Gpu, Model
from onshore.planner.perf import moe_layout
from onshore.planner.perf import precision as prec
from onshore.planner.perf.calibration import Calibration

FloatArray = npt.NDArray[np.float64]
ArrayLike = float | FloatArray

GIB = float(2**30)


@dataclass(frozen=True, slots=True)
class ReplicaSpec:
    """What one replica is: a model on ``tp`` GPUs of one type at one precision.

    ``layout`` is how the GPUs share the model: ``tp`` (tensor parallel, the default) or ``dp-ep``
    (attention data parallel + expert parallel over all ``tp`` GPUs, MoE models only:
    :mod:`onshore.planner.perf.moe_layout`). ``tp`` is the replica's GPU count either way.
    """

    model: Model
    gpu: Gpu
    tp: int
    precision: str
    kv_bytes: float = 0.0  # bytes per cached value; 0 = the precision's default
    layout: str = moe_layout.TP

    def __post_init__(self) -> None:
        prec.check(self.precision)
        moe_layout.check(self.model, self.gpu, self.tp, self.layout)

    @property
    def dp_ranks(self) -> int:
        """Independent schedulers (attention data-parallel ranks) in the replica."""
        return self.tp if self.layout == moe_layout.DP_EP else 1

    @property
    def kv_value_bytes(self) -> float:
        return self.kv_bytes or prec.default_kv_bytes(self.precision)


@dataclass(frozen=True, slots=True)
class StepModel:
    """Constants derived once per (replica, calibration); ``step_time`` is then cheap."""

    spec: ReplicaSpec
    cal: Calibration
    dense_weight_bytes: float  # per GPU, read every step
    expert_weight_bytes: float  # per GPU, all routed experts
    linear_flops_per_token: float  # whole replica, excluding lm_head
    lm_head_flops_per_seq: float
    attn_flops_per_pair_full: float  # per GPU, per (query token, attended position)
    attn_flops_per_pair_swa: float
    kv_bytes_per_pos_full: float  # per GPU, per attended position
    kv_bytes_per_pos_swa: float
    mem_bw: float  # bytes/s achieved
    gemm_peak: float  # FLOP/s per GPU
    attn_peak: float
    allreduce_count: int
    allreduce_bytes_per_token: float
    allreduce_bw: float
    fixed_s: float
    # a GPU's share of the step's tokens and sequences (GEMM shape, host work): 1/N under dp-ep
    token_share: float = 1.0
    # the largest pure-decode batch the engine replays from a CUDA graph (0: none), and the part of
    # ``fixed_s`` such a step saves (the per-layer latency times ``1 - cal.graph_frac``)
    graph_batch: int = 0
    graph_saving_s: float = 0.0

    @classmethod
    def build(cls, spec: ReplicaSpec, cal: Calibration, graph_batch: int = 0) -> StepModel:
        """Constants for ``spec`` under ``cal``; ``graph_batch`` is the engine's CUDA-graph limit."""
        model = cls._dp_ep(spec, cal) if spec.layout == moe_layout.DP_EP else cls._tp(spec, cal)
        saving = spec.model.layers * cal.layer_us * 1e-6 * (1.0 - cal.graph_frac)
        # under dp-ep every attention-DP rank replays its own share of the batch
        batch = graph_batch * spec.dp_ranks
        return replace(model, graph_batch=batch, graph_saving_s=saving if batch > 0 else 0.0)

    @classmethod
    def _tp(cls, spec: ReplicaSpec, cal: Calibration) -> StepModel:
        m, g, tp = spec.model, spec.gpu, spec.tp
        wb = prec.weight_bytes(spec.precision)
        lm_head = float(m.vocab * m.hidden)
        kv_shard = min(tp, max(m.kv_heads, 1))
        kv_pos = m.kv_values_per_token_layer * spec.kv_value_bytes / kv_shard
        ring = 2.0 * (tp - 1) / tp if tp > 1 else 0.0
        link = g.scaleup_gb_s * 1e9 * cal.comm_eff
        if not g.switched:
            link *= max(tp - 1, 1)  # fully connected mesh: one link per peer
        return cls(
            spec=spec,
            cal=cal,
            dense_weight_bytes=m.dense_params * wb / tp,
            expert_weight_bytes=m.routed_expert_params * wb / tp,
            linear_flops_per_token=2.0 * (m.params_active - m.embedding_params - lm_head),
            lm_head_flops_per_seq=2.0 * lm_head,
            attn_flops_per_pair_full=2.0 * m.attn_flop_width * m.full_attention_layers / tp,
            attn_flops_per_pair_swa=2.0 * m.attn_flop_width * m.sliding_layers / tp,
            kv_bytes_per_pos_full=kv_pos * m.full_attention_layers,
            kv_bytes_per_pos_swa=kv_pos * m.sliding_layers,
            mem_bw=g.hbm_tb_s * 1e12 * cal.mem_eff,
            gemm_peak=g.peak_tflops(prec.compute_format(spec.precision)) * 1e12,
            attn_peak=g.bf16_tflops * 1e12,
            allreduce_count=2 * m.layers if tp > 1 else 0,
            allreduce_bytes_per_token=ring * m.hidden * 2.0 / link,
            allreduce_bw=link,
            fixed_s=m.layers * cal.layer_us * 1e-6 + cal.step_ms * 1e-3,
        )

    @classmethod
    def _dp_ep(cls, spec: ReplicaSpec, cal: Calibration) -> StepModel:
        m, g = spec.model, spec.gpu
        t = moe_layout.terms(m, g, spec.tp, spec.precision, spec.kv_value_bytes, moe_layout.EXPERT_IMBALANCE)
        lm_head = float(m.vocab * m.hidden)
        return cls(
            spec=spec,
            cal=cal,
            dense_weight_bytes=t.dense_weight_bytes,
            expert_weight_bytes=t.expert_weight_bytes,
            linear_flops_per_token=t.linear_flops_per_token,
            lm_head_flops_per_seq=2.0 * lm_head,
            attn_flops_per_pair_full=t.attn_flops_per_pair_full,
            attn_flops_per_pair_swa=t.attn_flops_per_pair_swa,
            kv_bytes_per_pos_full=t.kv_bytes_per_pos_full,
            kv_bytes_per_pos_swa=t.kv_bytes_per_pos_swa,
            mem_bw=g.hbm_tb_s * 1e12 * cal.mem_eff,
            gemm_peak=g.peak_tflops(prec.compute_format(spec.precision)) * 1e12,
            attn_peak=g.bf16_tflops * 1e12,
            allreduce_count=t.comm_count,  # dispatch and combine: all-to-all, not all-reduce
            allreduce_bytes_per_token=t.comm_s_per_token,
            allreduce_bw=t.link_bytes_s,
            fixed_s=m.layers * cal.layer_us * 1e-6 + cal.step_ms * 1e-3,
            token_share=t.token_share,
        )

    def gemm_eff(self, tokens: ArrayLike) -> ArrayLike:
        """GEMM efficiency rises with the token (M) dimension and saturates at ``compute_eff``."""
        t = np.maximum(tokens, 1.0)
        return self.cal.compute_eff * t / (t + self.cal.half_tokens)

    def step_time(
        self,
        tokens: ArrayLike,
        seqs: ArrayLike,
        pairs_full: ArrayLike,
        pairs_swa: ArrayLike,
        positions_full: ArrayLike,
        positions_swa: ArrayLike,
        graph: ArrayLike | npt.NDArray[np.bool_] | None = None,
    ) -> ArrayLike:
        """Seconds for one step.

        Args:
            tokens: tokens computed this step (decode tokens plus prefill chunk tokens).
            seqs: sequences in the step.
            pairs_full / pairs_swa: (query token, attended position) pairs in full / sliding layers.
            positions_full / positions_swa: KV positions read, summed over sequences.
            graph: whether the step is replayed from a CUDA graph (pure decode within
                ``graph_batch``): it pays ``graph_frac`` of the per-layer latency.
        """
        m = self.spec.model
        tp = self.spec.tp
        gpu_flops = (self.linear_flops_per_token * tokens + self.lm_head_flops_per_seq * seqs) / tp
        if m.is_moe:
            k_over_e = m.experts_active / m.experts
            touched = 1.0 - np.power(1.0 - k_over_e, np.maximum(tokens, 1.0))
            weight_bytes: ArrayLike = self.dense_weight_bytes + self.expert_weight_bytes * touched
            per_expert_tokens = tokens * k_over_e / touched
            eff = np.minimum(self.gemm_eff(tokens * self.token_share), self.gemm_eff(per_expert_tokens))
        else:
            weight_bytes = self.dense_weight_bytes + 0.0 * tokens
            eff = self.gemm_eff(tokens * self.token_share)
        gemm = np.maximum(gpu_flops / (self.gemm_peak * eff), weight_bytes / self.mem_bw)
        attn_flops = self.attn_flops_per_pair_full * pairs_full + self.attn_flops_per_pair_swa * pairs_swa
        kv_bytes = self.kv_bytes_per_pos_full * positions_full + self.kv_bytes_per_pos_swa * positions_swa
        attn = np.maximum(attn_flops / (self.attn_peak * self.cal.attn_eff), kv_bytes / self.mem_bw)
        comm = self.allreduce_count * (self.cal.allreduce_us * 1e-6 + self.allreduce_bytes_per_token * tokens)
        host = self.fixed_s + self.cal.seq_us * 1e-6 * (seqs * self.token_share)
        if graph is not None and self.graph_saving_s:
            host = host - self.graph_saving_s * np.asarray(graph, dtype=np.float64)
        return gemm + attn + comm + host

    def decode_step(self, batch: ArrayLike, context: ArrayLike) -> ArrayLike:
        """A pure decode step: ``batch`` sequences each at ``context`` tokens."""
        w = self.spec.model.sliding_window
        swa_ctx = np.minimum(context, w) if w else 0.0 * context
        graph = np.asarray(batch) <= self.graph_batch
        return self.step_time(
            batch, batch, batch * context, batch * swa_ctx, batch * context, batch * swa_ctx, graph
        )

    def prefill_step(self, prompt: ArrayLike, batch: ArrayLike = 1.0) -> ArrayLike:
        """A step that prefills ``batch`` whole prompts of ``prompt`` tokens (no decodes)."""
        w = self.spec.model.sliding_window
        pairs_full = batch * prompt * prompt / 2.0
        pairs_swa = batch * prompt * np.minimum(prompt, w) if w else 0.0 * prompt
        return self.step_time(batch * prompt, batch, pairs_full, pairs_swa, batch * prompt, pairs_swa * 0.0)
