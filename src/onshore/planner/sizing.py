"""Sizing: the cheapest fleet that meets latency SLOs at the peak, searched over configurations.

For each candidate (GPU type x tensor parallelism x precision x max batch) the largest arrival
rate one replica sustains within the SLOs is found by the SLO-capacity search that
``plan predict``'s ``slo`` scenario runs (:mod:`onshore.planner.slo`: common random numbers,
doubling, bisection), each probe a simulation of a few replicas behind a round-robin router; the
fleet is then ``ceil(peak rate / that rate)`` replicas, checked once more by simulating up to 64
of them at exactly the peak share. A candidate's max batch of 0 means "as MLPerf submitters do":
start from the engine's shipped default and move it (doubling or halving, up to the batch the KV
cache holds) while that raises the capacity. Candidates are independent, so the sweep runs
through an :class:`~onshore.planner.ports.Executor`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from onshore.planner import slo as slo_search
from onshore.planner.catalog import engine_defaults
from onshore.planner.catalog import gpu as get_gpu
from onshore.planner.catalog import model as get_model
from onshore.planner.cost import CostInputs, FleetCost, fleet_cost
from onshore.planner.demand import Demand
from onshore.planner.errors import PlannerError
from onshore.planner.perf import calibration as calib
from onshore.planner.perf.kv import kv_block_overhead_per_seq, kv_capacity_blocks, kv_capacity_tokens
from onshore.planner.perf.roofline import ReplicaSpec, StepModel
from onshore.planner.ports import Executor
from onshore.planner.sim import EngineConfig, LengthDist, simulate, summarise
from onshore.planner.sim import workload as wl
from onshore.planner.slo import Slo

__all__ = [
    "Candidate",
    "CandidateResult",
    "SizingJob",
    "SizingResult",
    "Slo",
    "default_candidates",
    "evaluate",
    "size",
]


@dataclass(frozen=True, slots=True)
class Candidate:
    gpu: str
    tp: int
    precision: str
    max_num_seqs: int = 0  # 0: the engine's default, tuned up to the KV limit
    engine: str = "vllm"

    @property
    def label(self) -> str:
        return f"{self.gpu} TP{self.tp} {self.precision} seqs{self.max_num_seqs or 'auto'}"


@dataclass(frozen=True, slots=True)
class SizingJob:
    model: str
    candidate: Candidate
    demand: Demand
    slo: Slo
    cost_inputs: CostInputs
    sim_replicas: int = 8
    requests: int = 1000
    tolerance: float = 0.02  # of the per-replica capacity; each halving of it costs one probe
    seed: int = 0


@dataclass(frozen=True, slots=True)
class CandidateResult:
    candidate: Candidate
    feasible: bool
    reason: str = ""
    rate_per_replica: float = 0.0
    replicas: int = 0
    at_peak: dict[str, float] = field(default_factory=dict)
    curve: tuple[tuple[float, float, float], ...] = ()  # (rate per replica, ttft p99, tpot p99)
    cost: FleetCost | None = None
    max_num_seqs: int = 0  # the max batch the capacity was found with

    @property
    def label(self) -> str:
        c = self.candidate
        return f"{c.gpu} TP{c.tp} {c.precision} seqs{self.max_num_seqs or c.max_num_seqs or 'auto'}"


def default_candidates(
    gpus: Sequence[str],
    tps: Sequence[int],
    precisions: Sequence[str],
    max_seqs: Sequence[int],
    engine: str = "vllm",
) -> list[Candidate]:
    """The cross product, minus precisions a GPU cannot run natively (FP4 without FP4 cores)."""
    out: list[Candidate] = []
    for g in gpus:
        spec = get_gpu(g)
        for p in precisions:
            if p == "fp4" and spec.fp4_tflops <= 0:
                continue
            for tp in tps:
                if tp <= spec.scaleup_domain:
                    out.extend(Candidate(spec.id, tp, p, s, engine) for s in max_seqs)
    return out


def _probe(
    job: SizingJob,
    step: StepModel,
    cfg: EngineConfig,
    prompt: LengthDist,
    output: LengthDist,
    rate: float,
    replicas: int,
    n: int,
) -> dict[str, float]:
    rng = np.random.default_rng(job.seed)
    work = wl.poisson(rng, rate * replicas, n, prompt, output)
    return summarise(simulate(step, cfg, work, replicas, rng), warmup_fraction=0.2).as_dict()


def _meets(s: dict[str, float], slo: Slo) -> bool:
    return s["ttft_p99_ms"] <= slo.ttft_p99_ms and s["tpot_p99_ms"] <= slo.tpot_p99_ms


# Requests per probe when sizing: at least the job's, and enough for SIZING_RUN_S simulated
# seconds at the saturated throughput (a shorter run hides overload: every request fits in one
# burst), at most SIZING_MAX_REQUESTS.
SIZING_RUN_S = 10.0
SIZING_MAX_REQUESTS = 10_000


class _Tuner:
    """SLO capacity of one candidate at a given max batch, and the max batch search around it."""

    def __init__(
        self,
        job: SizingJob,
        step: StepModel,
        base: EngineConfig,
        prompt: LengthDist,
        output: LengthDist,
        kv: int,
    ):
        self.job, self.step, self.base, self.prompt, self.output, self.kv = (
            job,
            step,
            base,
            prompt,
            output,
            kv,
        )

    def plan(self, seqs: int) -> tuple[slo_search.Measure, float]:
        """The probe function at max batch ``seqs`` and its ceiling (the saturated throughput)."""
        j = self.job
        cfg = dataclasses.replace(self.base, max_num_seqs=seqs)
        mean = self.prompt.mean + self.output.mean
        full = slo_search.full_batch_requests(seqs, self.kv, mean, j.sim_replicas)
        n_full = min(max(j.requests, full), SIZING_MAX_REQUESTS)
        top = slo_search.saturated_throughput(
            self.step, cfg, j.sim_replicas, self.prompt, self.output, n_full, j.seed
        )
        n = min(max(j.requests, math.ceil(top * SIZING_RUN_S)), SIZING_MAX_REQUESTS)
        measure = slo_search.poisson_measure(
            self.step, cfg, j.sim_replicas, self.prompt, self.output, n, j.seed
        )
        return measure, top

    def capacity(self, seqs: int) -> slo_search.SloCapacity:
        """Capacity of ``sim_replicas`` replicas (whole-system rate) at max batch ``seqs``."""
        measure, top = self.plan(seqs)
        # 2^-8 of the ceiling and still missing the SLOs: hopeless; more halvings only cost probes
        return slo_search.search(
            measure, self.job.slo, top, self.job.tolerance, max_doublings=8, ceiling=True
        )

    def tune(self, seqs: int) -> tuple[int, slo_search.SloCapacity]:
        """Move the max batch from ``seqs`` (doubling or halving, never past the batch the KV cache
        holds at mean lengths) while the capacity rises: the way MLPerf submitters set it.

        Which way: when the first rate over the capacity broke the TPOT limit, a smaller batch
        trades queueing (TTFT) for decode speed; when only TTFT broke, a larger one may absorb the
        queue. A step is kept only if the next batch meets the SLOs one tolerance above the best
        rate so far (one probe rejects it; a full search prices it).
        """
        best = self.capacity(seqs)
        if not best.feasible:
            return seqs, best
        over = [p for p in best.probes if not p.ok and p.rate > best.max_rate]
        kv_batch = max(1, int(self.kv / (self.prompt.mean + self.output.mean)))
        shrink = bool(over) and min(over, key=lambda p: p.rate).summary.tpot_p99_ms > self.job.slo.tpot_p99_ms
        while True:
            nxt = seqs // 2 if shrink else seqs * 2
            if nxt < 8 or (not shrink and seqs >= kv_batch):
                return seqs, best
            measure, top = self.plan(nxt)
            rate = best.max_rate * (1 + 2 * self.job.tolerance)
            if rate > top or not self.job.slo.met_by(measure(rate)):
                return seqs, best
            found = self.capacity(nxt)
            if found.max_rate <= best.max_rate:
                return seqs, best
            seqs, best = nxt, found


def evaluate(job: SizingJob) -> CandidateResult:
    """Capacity per replica within the SLO, fleet size at the peak, and its cost (picklable)."""
    c = job.candidate
    try:
        spec = ReplicaSpec(get_model(job.model), get_gpu(c.gpu), c.tp, c.precision)
        kv_tokens = kv_capacity_tokens(spec)
        shipped = engine_defaults(c.engine, spec.gpu, "serve")
    except PlannerError as exc:
        return CandidateResult(c, False, str(exc))
    step = StepModel.build(spec, calib.shipped(c.engine))
    seqs = c.max_num_seqs or shipped.max_seqs(kv_tokens)
    cfg = EngineConfig(
        kv_blocks=kv_capacity_blocks(spec),
        max_num_seqs=seqs,
        max_batched_tokens=shipped.max_num_batched_tokens,
        swa_blocks_per_seq=kv_block_overhead_per_seq(spec),
        chunked_prefill=shipped.chunked_prefill,
    )
    cap = min(job.demand.prompt.high, kv_tokens // 2)
    prompt = LengthDist(job.demand.prompt.mean, job.demand.prompt.sigma, 1, cap)
    output = LengthDist(job.demand.output.mean, job.demand.output.sigma, 1, cap)
    ctx = prompt.mean + output.mean / 2
    if float(step.decode_step(1.0, ctx)) * 1e3 > job.slo.tpot_p99_ms:
        return CandidateResult(c, False, "TPOT SLO missed even at batch 1", max_num_seqs=seqs)
    tuner = _Tuner(job, step, cfg, prompt, output, kv_tokens)
    if c.max_num_seqs:
        found = tuner.capacity(seqs)
    else:
        seqs, found = tuner.tune(seqs)
    cfg = dataclasses.replace(cfg, max_num_seqs=seqs)
    per = float(job.sim_replicas)
    curve = tuple(sorted((p.rate / per, p.summary.ttft_p99_ms, p.summary.tpot_p99_ms) for p in found.probes))
    if not found.feasible:
        return CandidateResult(c, False, found.reason, curve=curve, max_num_seqs=seqs)
    lo = found.max_rate / per
    replicas = max(1, math.ceil(job.demand.peak_rps / lo))
    check = min(replicas, 64)
    n = max(job.requests, 40 * check)
    at_peak = _probe(job, step, cfg, prompt, output, job.demand.peak_rps / replicas, check, n)
    if not _meets(at_peak, job.slo):
        replicas = math.ceil(replicas * 1.1)
    cost = fleet_cost(
        get_gpu(c.gpu),
        replicas * c.tp,
        job.demand.daily_tokens,
        job.demand.daily_output_tokens,
        job.cost_inputs,
    )
    return CandidateResult(c, True, "", lo, replicas, at_peak, curve, cost, seqs)


@dataclass(frozen=True, slots=True)
class SizingResult:
    model: str
    demand: Demand
    slo: Slo
    results: tuple[CandidateResult, ...]
    objective: str

    @property
    def feasible(self) -> list[CandidateResult]:
        key: Callable[[CandidateResult], float] = {
            "cost": lambda r: r.cost.annual_cost_krw if r.cost else 0.0,
            "gpus": lambda r: r.cost.gpus if r.cost else 0.0,
            "power": lambda r: r.cost.facility_power_mw if r.cost else 0.0,
        }[self.objective]
        return sorted((r for r in self.results if r.feasible and r.cost), key=key)

    @property
    def best(self) -> CandidateResult | None:
        ranked = self.feasible
        return ranked[0] if ranked else None


def size(
    model: str,
    demand: Demand,
    slo: Slo,
    candidates: Sequence[Candidate],
    executor: Executor,
    cost_inputs: CostInputs | None = None,
    objective: str = "cost",
    on_done: Callable[[CandidateResult], None] | None = None,
    seed: int = 0,
) -> SizingResult:
    """Evaluate every candidate through ``executor`` and rank the feasible ones by ``objective``."""
    if objective not in ("cost", "gpus", "power"):
        raise PlannerError(f"objective must be cost, gpus or power, not {objective!r}")
    get_model(model)
    if not candidates:
        raise PlannerError("no candidate configurations to search")
    jobs = [SizingJob(model, c, demand, slo, cost_inputs or CostInputs(), seed=seed) for c in candidates]
    results: list[CandidateResult | None] = [None] * len(jobs)
    for i, res in executor.map_unordered(evaluate, jobs):
        results[i] = res
        if on_done is not None:
            on_done(res)
    return SizingResult(model, demand, slo, tuple(r for r in results if r is not None), objective)
