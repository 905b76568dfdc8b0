"""What a simulation run collected, and the summary statistics derived from it.

Collection only: no plotting or file output here (reporting lives in ``planner.report``).
Metric definitions follow ``vllm bench serve``: TTFT = first token time - arrival;
TPOT per request = (E2E - TTFT) / (output tokens - 1), over requests with >= 2 output tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from onshore.planner.sim.workload import FloatArray, IntArray


@dataclass(frozen=True, slots=True)
class SimResult:
    """Per-request times (global request order) and per-replica accounting of one run."""

    arrival: FloatArray
    first_token: FloatArray
    finish: FloatArray
    prompt: IntArray
    output: IntArray
    replica: IntArray
    replicas: int
    busy_s: FloatArray
    iterations: int
    kv_capacity_blocks: int
    max_kv_blocks_used: int
    kv_block_seconds: float
    in_system_seconds: float
    preemptions: int
    max_batch_tokens: int
    max_seqs: int

    @property
    def makespan(self) -> float:
        return float(self.finish.max() - self.arrival.min())


@dataclass(frozen=True, slots=True)
class Summary:
    """The numbers a report shows for one run (times in ms, rates per second)."""

    requests: int
    duration_s: float
    requests_per_s: float
    output_tokens_per_s: float
    input_tokens_per_s: float
    ttft_mean_ms: float
    ttft_p50_ms: float
    ttft_p90_ms: float
    ttft_p99_ms: float
    tpot_mean_ms: float
    tpot_p50_ms: float
    tpot_p99_ms: float
    e2e_mean_ms: float
    e2e_p50_ms: float
    e2e_p99_ms: float
    utilisation: float
    kv_utilisation: float
    mean_in_system: float
    preemptions: int

    def as_dict(self) -> dict[str, float]:
        return {k: float(getattr(self, k)) for k in self.__dataclass_fields__}


def _pct(values: FloatArray, q: float) -> float:
    return float(np.percentile(values, q)) if values.size else 0.0


def summarise(result: SimResult, warmup_fraction: float = 0.0) -> Summary:
    """Summary statistics; the first ``warmup_fraction`` of arrivals is left out of latencies."""
    order = np.argsort(result.arrival, kind="stable")
    keep = order[int(len(order) * warmup_fraction) :]
    ttft = (result.first_token - result.arrival)[keep] * 1e3
    e2e = (result.finish - result.arrival)[keep] * 1e3
    out = result.output[keep]
    multi = out > 1
    tpot = (e2e[multi] - ttft[multi]) / (out[multi] - 1)
    span = result.makespan
    start, end = float(result.arrival.min()), float(result.finish.max())
    wall = max(end - start, 1e-12)
    return Summary(
        requests=len(result.arrival),
        duration_s=span,
        requests_per_s=len(result.arrival) / wall,
        output_tokens_per_s=float(result.output.sum()) / wall,
        input_tokens_per_s=float(result.prompt.sum()) / wall,
        ttft_mean_ms=float(ttft.mean()),
        ttft_p50_ms=_pct(ttft, 50),
        ttft_p90_ms=_pct(ttft, 90),
        ttft_p99_ms=_pct(ttft, 99),
        tpot_mean_ms=float(tpot.mean()) if tpot.size else 0.0,
        tpot_p50_ms=_pct(tpot, 50),
        tpot_p99_ms=_pct(tpot, 99),
        e2e_mean_ms=float(e2e.mean()),
        e2e_p50_ms=_pct(e2e, 50),
        e2e_p99_ms=_pct(e2e, 99),
        utilisation=float(result.busy_s.sum() / (wall * result.replicas)),
        kv_utilisation=float(result.kv_block_seconds / (wall * result.replicas * result.kv_capacity_blocks)),
        mean_in_system=result.in_system_seconds / wall,
        preemptions=result.preemptions,
    )
