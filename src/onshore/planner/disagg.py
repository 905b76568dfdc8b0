"""Disaggregated prefill/decode: a prefill pool and a decode pool, with the KV cache moved between.

The two pools are simulated one after the other with the ordinary engine (``sim.engine``):

1. The prefill pool serves every request with one output token: its first token is the end of
   the prompt's prefill, queueing and chunking included, exactly as an engine run as a prefill
   worker (vLLM's disaggregated proxy sends ``max_tokens=1`` to it).
2. Each prompt's KV then crosses the network (``perf.kv_transfer``).
3. The decode pool receives the request when its KV has arrived, with all but the prompt's last
   token already cached (``Workload.cached``): it holds KV blocks for the whole prompt, computes
   one token (the first it streams) and then decodes the rest at its own batch.

So TTFT = prefill queue + prefill + transfer + the decode pool's admission and first step, and
TPOT is the decode pool's, free of prefill chunks. Both pools route round-robin. The decode
pool's blocks are reserved when the KV arrives, not while it is in flight (Dynamo and vLLM
allocate first: a slight under-count of decode KV pressure).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from onshore.planner.errors import PlannerError
from onshore.planner.perf import kv_transfer
from onshore.planner.perf.calibration import Calibration
from onshore.planner.perf.kv import kv_block_overhead_per_seq, kv_capacity_blocks
from onshore.planner.perf.roofline import ReplicaSpec, StepModel
from onshore.planner.sim import EngineConfig, SimResult, Workload, simulate
from onshore.planner.sim.workload import FloatArray


@dataclass(frozen=True, slots=True)
class Layout:
    """How many replicas each pool has and their tensor parallelism (one GPU type, one precision)."""

    prefill_replicas: int
    prefill_tp: int
    decode_replicas: int
    decode_tp: int

    def __post_init__(self) -> None:
        if min(self.prefill_replicas, self.prefill_tp, self.decode_replicas, self.decode_tp) < 1:
            raise PlannerError("a disaggregated layout needs >= 1 replica of >= 1 GPU in each pool")

    @property
    def prefill_gpus(self) -> int:
        return self.prefill_replicas * self.prefill_tp

    @property
    def decode_gpus(self) -> int:
        return self.decode_replicas * self.decode_tp

    @property
    def gpus(self) -> int:
        return self.prefill_gpus + self.decode_gpus

    @property
    def label(self) -> str:
        return f"{self.prefill_replicas}x{self.prefill_tp}:{self.decode_replicas}x{self.decode_tp}"

    @classmethod
    def parse(cls, text: str, tp: int) -> Layout:
        """``P:D`` replicas of ``tp`` GPUs each, or ``PxTP:DxTP`` (e.g. ``2x2:1x4``)."""
        try:
            pools = [part.strip().lower().split("x") for part in text.split(":")]
            if len(pools) != 2 or any(len(p) not in (1, 2) for p in pools):
                raise ValueError
            (pr, *pt), (dr, *dt) = ([int(v) for v in p] for p in pools)
        except ValueError as exc:
            raise PlannerError(f"disaggregated {text!r}: use P:D or PxTP:DxTP, e.g. 2:6 or 2x2:1x4") from exc
        return cls(pr, pt[0] if pt else tp, dr, dt[0] if dt else tp)


@dataclass(frozen=True, slots=True)
class Pool:
    """One pool: its replicas' step model and scheduler limits, and how many replicas."""

    spec: ReplicaSpec
    step: StepModel
    cfg: EngineConfig
    replicas: int


def pool(
    spec: ReplicaSpec, cal: Calibration, replicas: int, max_num_seqs: int, max_batched_tokens: int
) -> Pool:
    """A pool of ``replicas`` replicas of ``spec`` with the engine's limits."""
    cfg = EngineConfig(
        kv_blocks=kv_capacity_blocks(spec),
        max_num_seqs=max_num_seqs,
        max_batched_tokens=max_batched_tokens,
        swa_blocks_per_seq=kv_block_overhead_per_seq(spec),
    )
    return Pool(spec, StepModel.build(spec, cal), cfg, replicas)


def pools(
    spec: ReplicaSpec,
    cal: Calibration,
    layout: Layout,
    max_num_seqs: int = 256,
    max_batched_tokens: int = 0,
) -> tuple[Pool, Pool]:
    """The prefill and decode pools of ``layout`` for the model, GPU and precision of ``spec``."""
    budget = max_batched_tokens or int(cal.max_batched_tokens)
    pre = pool(replace(spec, tp=layout.prefill_tp), cal, layout.prefill_replicas, max_num_seqs, budget)
    dec = pool(replace(spec, tp=layout.decode_tp), cal, layout.decode_replicas, max_num_seqs, budget)
    return pre, dec


@dataclass(frozen=True, slots=True)
class DisaggRun:
    """The end-to-end result (per request, both pools' accounting) and each stage on its own."""

    result: SimResult
    prefill: SimResult
    decode: SimResult
    transfer_s: FloatArray  # per request


def simulate_disagg(
    prefill: Pool, decode: Pool, work: Workload, kv: kv_transfer.KvLink, rng: np.random.Generator
) -> DisaggRun:
    """Serve an open-loop ``work`` on the two pools (see the module docstring)."""
    if work.arrival is None:
        raise PlannerError("disaggregated serving is simulated for open-loop (rate or offline) traffic")
    ones = np.ones(work.n, dtype=np.int64)
    pre = simulate(prefill.step, prefill.cfg, replace(work, output=ones), prefill.replicas, rng)
    move = kv_transfer.transfer_s(prefill.spec, decode.spec, work.prompt, kv)
    ready = pre.first_token + move
    # the engine wants each replica's queue in arrival order: feed the decode pool sorted by
    # when each KV lands, and map the results back to the request order afterwards
    order = np.argsort(ready, kind="stable")
    # the engine adds the per-request overhead (HTTP, tokenisation: ``cal.request_ms``) to every
    # arrival; the request paid it on entering the prefill pool, so it is taken off here
    lag = decode.step.cal.request_ms * 1e-3
    handed = Workload(
        prompt=work.prompt[order],
        output=work.output[order],
        arrival=ready[order] - lag,
        cached=np.maximum(work.prompt[order] - 1, 0),
    )
    dec = simulate(decode.step, decode.cfg, handed, decode.replicas, rng)
    first, finish = np.empty(work.n), np.empty(work.n)
    first[order], finish[order] = dec.first_token, dec.finish
    return DisaggRun(_combined(work, work.arrival, pre, dec, first, finish), pre, dec, move)


def _combined(
    work: Workload,
    arrival: FloatArray,
    pre: SimResult,
    dec: SimResult,
    first: FloatArray,
    finish: FloatArray,
) -> SimResult:
    """One result over both pools: per-request times end to end, per-replica accounting joined."""
    replicas = pre.replicas + dec.replicas
    # the summary's KV utilisation divides by replicas x capacity: keep that product right
    capacity = max(
        1, round((pre.replicas * pre.kv_capacity_blocks + dec.replicas * dec.kv_capacity_blocks) / replicas)
    )
    return SimResult(
        arrival=arrival,
        first_token=first,
        finish=finish,
        prompt=work.prompt,
        output=work.output,
        replica=pre.replica,
        replicas=replicas,
        busy_s=np.concatenate([pre.busy_s, dec.busy_s]),
        iterations=pre.iterations + dec.iterations,
        kv_capacity_blocks=capacity,
        max_kv_blocks_used=max(pre.max_kv_blocks_used, dec.max_kv_blocks_used),
        kv_block_seconds=pre.kv_block_seconds + dec.kv_block_seconds,
        in_system_seconds=pre.in_system_seconds + dec.in_system_seconds,
        preemptions=pre.preemptions + dec.preemptions,
        max_batch_tokens=dec.max_batch_tokens,
        max_seqs=dec.max_seqs,
    )


def run_layout(
    spec: ReplicaSpec,
    cal: Calibration,
    layout: Layout,
    work: Workload,
    rng: np.random.Generator,
    link: str = "auto",
    max_num_seqs: int = 256,
    max_batched_tokens: int = 0,
) -> DisaggRun:
    """Simulate ``work`` on ``layout``; ``auto`` link: NVLink if the layout fits one scale-up domain."""
    pre, dec = pools(spec, cal, layout, max_num_seqs, max_batched_tokens)
    kv = kv_transfer.link(spec.gpu, link, layout.gpus)
    return simulate_disagg(pre, dec, work, kv, rng)
