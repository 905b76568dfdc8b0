"""The performance model's free parameters, and saving/loading them as JSON.

The shipped file ``data/calibration.json`` is fitted by ``onshore.planner.validation.calibrate``
to the calibration split of ``validation/data/published.csv`` (sources cited per row there).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from onshore.planner.errors import PlannerError

# A benchmark's closed-loop clients start together but drift apart: published closed-loop TTFTs on
# TensorRT-LLM and vLLM are about one prompt's prefill (Llama 3.1 70B FP8, TensorRT-LLM, 4 x H200,
# 1,024 / 8,192 tokens, 64 clients: 282 ms). Simulated clients with identical lifetimes never
# drift: the wave of prompts that started together is prefilled together for ever, each wave
# waiting out the one before it (830 ms a request after the first wave, 920 ms mean). Any spread
# of the lifetimes ends it: with sigma 0.01, 0.03, 0.1 or 0.3 the requests after the first wave
# wait 80-100 ms and the mean is 247-265 ms, the TPOT (18.3 ms) unchanged. SGLang's published
# closed-loop runs look like lock-step waves instead (TTFT about a whole wave's prefill, TPOT that
# of pure decode steps), and its profile keeps them (``closed_loop_drift`` 0): its calibration fit
# is worse drifting (rms log error 0.353 -> 0.418), where vLLM's is better (0.343 -> 0.281) and
# TensorRT-LLM's the same (0.311 -> 0.312). Held out, with vLLM's and TensorRT-LLM's request_ms
# refit: TTFT 46.2 -> 37.1 % (closed loop 38.9 -> 30.9 %), TPOT 21.9 -> 22.1 % median |error|
# (benchmarks/results/planner-validation.md).
CLOSED_LOOP_DRIFT = 0.02


@dataclass(frozen=True, slots=True)
class Calibration:
    """Free parameters of the step-time model. Defaults are physically plausible priors.

    Attributes:
        mem_eff: achieved fraction of peak HBM bandwidth when streaming weights and KV.
        compute_eff: achieved fraction of peak tensor FLOP/s for large GEMMs.
        half_tokens: tokens per GEMM at which its efficiency is half of ``compute_eff``.
        attn_eff: achieved fraction of peak BF16 FLOP/s in attention kernels.
        layer_us: fixed latency per transformer layer per step (launches, norms, small kernels).
        allreduce_us: latency of one tensor-parallel all-reduce.
        comm_eff: achieved fraction of scale-up link bandwidth in all-reduce.
        step_ms: per-step host/scheduler overhead (Python scheduler, sampling, detokenise).
        seq_us: per-sequence host overhead per step.
        request_ms: per-request latency outside the engine loop (HTTP, tokenisation, queue hand-off,
            detokenisation), added once between a client sending and the engine seeing a request.
        graph_frac: share of the per-layer fixed latency (``layer_us``) a pure-decode step of at
            most the engine's CUDA-graph batch still pays (the engine replays it from a graph,
            without per-kernel launches or Python module calls); 1 models no graphs.
        closed_loop_drift: log-normal sigma given to a closed-loop row's fixed answer lengths (mean
            unchanged), so that clients that start together drift apart; 0 keeps them in lock-step.
            Not fitted: :data:`CLOSED_LOOP_DRIFT` unless a profile's calibration fit is clearly
            better with lock-step clients (``calibration.json`` meta gives both rms log errors).
        max_batched_tokens: unused since the token budget comes from the engine catalog
            (``catalog/data/engines.csv``: each engine's shipped default); kept so calibration
            files written before stay readable.
    """

    mem_eff: float = 0.75
    compute_eff: float = 0.6
    half_tokens: float = 64.0
    attn_eff: float = 0.4
    layer_us: float = 10.0
    allreduce_us: float = 12.0
    comm_eff: float = 0.7
    step_ms: float = 2.0
    seq_us: float = 15.0
    request_ms: float = 15.0
    closed_loop_drift: float = CLOSED_LOOP_DRIFT
    graph_frac: float = 1.0
    max_batched_tokens: float = 8192.0

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise PlannerError(f"unknown calibration parameters: {', '.join(sorted(unknown))}")
        return cls(**{k: float(v) for k, v in data.items()})


PARAMETER_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Calibration))


DEFAULT_ENGINE = "vllm"
# A GPU vendor whose software stack gets its own profile of an engine. The same engine reaches a
# different fraction of the hardware's peak on ROCm (hipBLASLt GEMMs, ROCm attention kernels)
# than on CUDA, and the CUDA-fitted vLLM profile over-predicted vLLM on MI300X/MI325X about 2x.
# Held-out AMD rows (MLPerf v4.1/v5.1), vllm -> vllm-rocm profile: SLO capacity 149.2 -> 39.1 %,
# TPOT 87.2 -> 23.0 %, TTFT 95.9 -> 54.2 %, offline throughput 83.9 -> 34.6 % median |error|
# (benchmarks/results/planner-validation.md). Refit with batch-latency rows and the collectives
# (calibrate.STACK_FITTED): TTFT 52.3 %, TPOT 24.4 %, SLO capacity 22.1 %, offline throughput 30.5 %.
STACK_SUFFIX = {"AMD": "rocm"}


def profile_name(engine: str, vendor: str = "") -> str:
    """The profile that serves ``engine`` on a GPU of ``vendor``: ``vllm``, or ``vllm-rocm`` on AMD."""
    suffix = STACK_SUFFIX.get(vendor.upper())
    return f"{engine.lower()}-{suffix}" if suffix else engine.lower()


def save(profiles: dict[str, Calibration], path: Path, meta: dict[str, Any] | None = None) -> None:
    """Write ``{"profiles": {engine: parameters}, "meta": ...}`` as JSON (one profile per engine)."""
    doc = {"profiles": {k: v.to_dict() for k, v in sorted(profiles.items())}, "meta": meta or {}}
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _profiles(doc: dict[str, Any]) -> dict[str, Calibration]:
    return {k: Calibration.from_dict(v) for k, v in doc["profiles"].items()}


def load(path: Path, engine: str = DEFAULT_ENGINE) -> Calibration:
    """One engine's profile from a calibration JSON written by :func:`save`."""
    try:
        profiles = _profiles(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError) as exc:
        raise PlannerError(f"cannot read calibration {path}: {exc}") from exc
    return profiles.get(engine) or profiles.get(DEFAULT_ENGINE) or Calibration()


@cache
def _shipped_profiles() -> dict[str, Calibration]:
    ref = resources.files("onshore.planner.perf").joinpath("data", "calibration.json")
    if not ref.is_file():
        return {}
    return _profiles(json.loads(ref.read_text(encoding="utf-8")))


def shipped(engine: str = DEFAULT_ENGINE, vendor: str = "") -> Calibration:
    """The shipped calibration for ``engine`` (vllm, trtllm, sglang) on a GPU of ``vendor``,
    fitted to public measurements.

    A vendor's own profile (``vllm-rocm``) where one was fitted, else the engine's; unknown engines
    get the vLLM profile; without a shipped file, the priors.
    """
    profiles = _shipped_profiles()
    return (
        profiles.get(profile_name(engine, vendor))
        or profiles.get(engine.lower())
        or profiles.get(DEFAULT_ENGINE)
        or Calibration()
    )
