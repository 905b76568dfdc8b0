"""Time to move a prompt's KV cache from a prefill replica to a decode replica (disaggregated serving).

A transfer is ``latency + bytes / (lanes x per-GPU bandwidth x efficiency)``: each GPU of a
tensor-parallel replica holds its own share of the KV heads and sends it over its own link, so up
to ``min(prefill TP, decode TP, KV heads)`` links work in parallel. Inside one scale-up domain
(NVLink) the link is the GPU's scale-up bandwidth; across nodes it is the GPU's scale-out NIC
(InfiniBand / RoCE), which the GPU catalog does not carry: :mod:`onshore.planner.perf.links`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from onshore.planner.catalog import Gpu
from onshore.planner.errors import PlannerError
from onshore.planner.perf.links import DEFAULT_SCALEOUT_GBIT_S, SCALEOUT_GBIT_S
from onshore.planner.perf.roofline import ReplicaSpec

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Share of the link a KV transfer achieves. Mooncake's Transfer Engine (kvcache-ai/Mooncake,
# doc/en/transfer-engine.md, its benchmark of a 40 GB KV payload) reaches 87 GB/s on 4 x 200 Gb/s
# RoCE (87 % of 100 GB/s) and 190 GB/s on 8 x 400 Gb/s (48 % of 400 GB/s). Eight NICs is the
# H100/B200 node, so the lower figure is taken for scale-out; NVLink copies of paged KV blocks are
# given the same efficiency (an ASSUMPTION: no public NIXL-over-NVLink figure was found).
SCALEOUT_EFF = 0.48
SCALEUP_EFF = 0.48
# Fixed cost per transfer: RDMA set-up, the decode side's block allocation and the notification
# back (vLLM's NixlConnector / Dynamo exchange metadata before the read). An ASSUMPTION of 2 ms;
# Dynamo's docs only say a transfer without RDMA is ~40x slower.
LATENCY_S = 2e-3

LINKS = ("auto", "scaleup", "scaleout", "none")


@dataclass(frozen=True, slots=True)
class KvLink:
    """An effective link between a prefill and a decode replica."""

    kind: str  # "scaleup", "scaleout" or "none" (free transfers: an ideal-network bound)
    gb_s_per_lane: float  # achieved GB/s (1e9 bytes) per GPU link
    latency_s: float

    def describe(self) -> str:
        if self.kind == "none":
            return "no transfer cost"
        return f"{self.kind} {self.gb_s_per_lane:.1f} GB/s per GPU + {self.latency_s * 1e3:.1f} ms"


def scaleout_gb_s(gpu: Gpu) -> float:
    """Raw scale-out bandwidth per GPU, GB/s per direction."""
    return SCALEOUT_GBIT_S.get(gpu.id, DEFAULT_SCALEOUT_GBIT_S) / 8.0


def link(gpu: Gpu, kind: str, gpus: int = 0) -> KvLink:
    """The link of ``kind``; ``auto`` is NVLink when all ``gpus`` of the deployment share one domain."""
    if kind not in LINKS:
        raise PlannerError(f"KV link {kind!r} is not one of {', '.join(LINKS)}")
    if kind == "auto":
        kind = "scaleup" if 0 < gpus <= gpu.scaleup_domain else "scaleout"
    if kind == "none":
        return KvLink("none", float("inf"), 0.0)
    if kind == "scaleup":
        return KvLink("scaleup", gpu.scaleup_gb_s * SCALEUP_EFF, LATENCY_S)
    return KvLink("scaleout", scaleout_gb_s(gpu) * SCALEOUT_EFF, LATENCY_S)


def prompt_kv_bytes(spec: ReplicaSpec, prompt: IntArray | FloatArray | float) -> FloatArray:
    """Bytes of KV a prompt leaves behind: every full-attention layer, and the sliding window's."""
    m = spec.model
    per_pos = m.kv_values_per_token_layer * spec.kv_value_bytes
    p = np.asarray(prompt, dtype=np.float64)
    window = np.minimum(p, m.sliding_window) if m.sliding_window else 0.0 * p
    return np.asarray(per_pos * (m.full_attention_layers * p + m.sliding_layers * window))


def transfer_s(prefill: ReplicaSpec, decode: ReplicaSpec, prompt: IntArray | float, kv: KvLink) -> FloatArray:
    """Seconds to move each prompt's KV from a ``prefill`` replica to a ``decode`` replica."""
    p = np.asarray(prompt, dtype=np.float64)
    if kv.kind == "none":
        return np.zeros_like(p)
    lanes = max(1, min(prefill.tp, decode.tp, max(prefill.model.kv_heads, 1)))
    return np.asarray(kv.latency_s + prompt_kv_bytes(prefill, p) / (lanes * kv.gb_s_per_lane * 1e9))
