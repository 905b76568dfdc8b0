"""Sizing: the cheapest fleet that meets latency SLOs at the peak, searched over configurations.

For each candidate (GPU type x GPUs per replica x layout x precision x max batch) the largest arrival
rate one replica sustains within the SLOs is found by the SLO-capacity search that
``plan predict``'s ``slo`` scenario runs (:mod:`onshore.planner.slo`: common random numbers,
doubling, bisection), each probe a simulation of a few replicas behind a round-robin router; the
fleet is then ``ceil(peak rate / that rate)`` replicas, checked once more by simulating up to 64
of them at exactly the peak share. A candidate's max batch of 0 means "as MLPerf submitters do":
start from the engine's shipped default and move it (doubling or halving, up to the batch the KV
cache holds) while that raises the capacity. Candidates are independent, so the sweep runs
through an :class:`~onshore.planner.ports.Executor`. A candidate's layout is ``tp`` (tensor
parallel) or, for MoE models, ``dp-ep`` (attention data parallel + expert parallel over the
replica's GPUs, :mod:`onshore.planner.perf.moe_layout`), which may span scale-up domains.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from onshore.planner import engine_setup, sweep, throughput_bound
from onshore.planner.batch_tuning import BatchTuner
from onshore.planner.catalog import engine_defaults
from onshore.planner.catalog import gpu as get_gpu
from onshore.planner.catalog import model as get_model
from onshore.planner.cost import CostInputs, FleetCost, fleet_cost
from onshore.planner.demand import Demand
from onshore.planner.errors import PlannerError
from onshore.planner.perf import calibration as calib
from onshore.planner.perf import moe_layout
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
    layout: str = moe_layout.TP  # or moe_layout.DP_EP; ``tp`` is the replica's GPUs either way

    @property
    def parallel(self) -> str:
        """``TP8``, or ``DP8-EP8`` for the attention-DP + expert-parallel layout."""
        return f"DP{self.tp}-EP{self.tp}" if self.layout == moe_layout.DP_EP else f"TP{self.tp}"

    @property
    def label(self) -> str:
        return f"{self.gpu} {self.parallel} {self.precision} seqs{self.max_num_seqs or 'auto'}"


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
        return f"{c.gpu} {c.parallel} {c.precision} seqs{self.max_num_seqs or c.max_num_seqs or 'auto'}"


def default_candidates(
    gpus: Sequence[str],
    tps: Sequence[int],
    precisions: Sequence[str],
    max_seqs: Sequence[int],
    engine: str = "vllm",
    layouts: Sequence[str] = (moe_layout.TP,),
) -> list[Candidate]:
    """The cross product, minus precisions a GPU cannot run natively (FP4 without FP4 cores),
    tensor parallelism past the scale-up domain and dp-ep on one GPU (dp-ep may span nodes)."""
    out: list[Candidate] = []
    for g in gpus:
        spec = get_gpu(g)
        for p in precisions:
            if p == "fp4" and spec.fp4_tflops <= 0:
                continue
            for layout in map(moe_layout.parse, layouts):
                for tp in tps:
                    fits = tp <= spec.scaleup_domain if layout == moe_layout.TP else tp >= 2
                    if fits:
                        out.extend(Candidate(spec.id, tp, p, s, engine, layout) for s in max_seqs)
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
    work = wl.with_prefix_hits(
        wl.poisson(rng, rate * replicas, n, prompt, output), job.demand.prefix_hit_rate
    )
    return summarise(simulate(step, cfg, work, replicas, rng), warmup_fraction=0.2).as_dict()


def _meets(s: dict[str, float], slo: Slo) -> bool:
    return s["ttft_p99_ms"] <= slo.ttft_p99_ms and s["tpot_p99_ms"] <= slo.tpot_p99_ms


@dataclass(frozen=True, slots=True)
class _Setup:
    """What ``evaluate`` and ``fleet_floor`` derive from a job before simulating anything."""

    step: StepModel
    cfg: EngineConfig
    prompt: LengthDist
    output: LengthDist
    kv_tokens: int
    ctx: float  # mean context of a decoding sequence
    # An upper bound of the rate one replica sustains: the lower of the decode-only throughput at
    # the largest batch the KV cache holds at mean lengths (or the max batch, if smaller, and never
    # tuned) and the long-run bound with prefill (``throughput_bound``) at the largest batch the
    # tuner can reach. ``evaluate`` never reports more, so ``fleet_floor`` stays a floor (sweep's
    # pruning).
    hi: float


def _setup(job: SizingJob) -> _Setup | CandidateResult:
    c = job.candidate
    try:
        spec = ReplicaSpec(get_model(job.model), get_gpu(c.gpu), c.tp, c.precision, layout=c.layout)
        shipped = engine_defaults(c.engine, spec.gpu, "serve")
        kv_tokens = engine_setup.kv_tokens(spec, shipped)
    except PlannerError as exc:
        return CandidateResult(c, False, str(exc))
    step = engine_setup.step_model(spec, shipped, calib.shipped(c.engine, spec.gpu.vendor))
    cfg = engine_setup.engine_config(spec, shipped, c.max_num_seqs)
    seqs = cfg.max_num_seqs
    cap = min(job.demand.prompt.high, kv_tokens // 2)
    prompt = replace(job.demand.prompt, low=1, high=cap)  # replace keeps empirical knots
    output = replace(job.demand.output, low=1, high=cap)
    ctx = prompt.mean + output.mean / 2
    tuned = not c.max_num_seqs
    # the tuner doubles the batch at most once past what the KV cache holds at mean lengths
    kv_batch = max(kv_tokens / (prompt.mean + output.mean), 1.0)
    batch = min(max(seqs, 2 * kv_batch) if tuned else seqs, kv_batch)
    hi = batch / float(step.decode_step(batch, ctx)) / output.mean
    # The long-run bound counts prefill, which the decode-only one leaves out: 1.7-2.8x tighter on
    # the Korea example, where it leaves 5 of 32 configurations to simulate instead of 23.
    reach = dataclasses.replace(cfg, max_num_seqs=max(seqs, math.ceil(2 * kv_batch)) if tuned else seqs)
    bound = throughput_bound.replica_rate(step, reach, prompt.mean, output.mean, job.demand.prefix_hit_rate)
    return _Setup(step, cfg, prompt, output, kv_tokens, ctx, min(hi, bound))


def fleet_floor(job: SizingJob) -> FleetCost | None:
    """A fleet no smaller than any ``evaluate(job)`` can return, or None if it returns no fleet.

    ``evaluate``'s rate per replica is at most ``hi``, so its fleet is at least
    ``ceil(peak / hi)`` replicas; cost, power and GPU count grow with the GPUs (``fleet_cost``),
    so this fleet's are lower bounds of the result's.
    """
    setup = _setup(job)
    if isinstance(setup, CandidateResult):
        return None
    replicas = max(1, math.ceil(job.demand.peak_rps / setup.hi))
    d = job.demand
    return fleet_cost(
        get_gpu(job.candidate.gpu),
        replicas * job.candidate.tp,
        d.daily_tokens,
        d.daily_output_tokens,
        job.cost_inputs,
    )


def evaluate(job: SizingJob) -> CandidateResult:
    """Capacity per replica within the SLO, fleet size at the peak, and its cost (picklable)."""
    c = job.candidate
    setup = _setup(job)
    if isinstance(setup, CandidateResult):
        return setup
    step, cfg, prompt, output, ctx = setup.step, setup.cfg, setup.prompt, setup.output, setup.ctx
    seqs = cfg.max_num_seqs
    if float(step.decode_step(1.0, ctx)) * 1e3 > job.slo.tpot_p99_ms:
        return CandidateResult(c, False, "TPOT SLO missed even at batch 1", max_num_seqs=seqs)
    tuner = BatchTuner(job, step, cfg, prompt, output, setup.kv_tokens)
    if c.max_num_seqs:
        found = tuner.capacity(seqs)
    else:
        seqs, found = tuner.tune(seqs)
    cfg = dataclasses.replace(cfg, max_num_seqs=seqs)
    per = float(job.sim_replicas)
    curve = tuple(sorted((p.rate / per, p.summary.ttft_p99_ms, p.summary.tpot_p99_ms) for p in found.probes))
    if not found.feasible:
        return CandidateResult(c, False, found.reason, curve=curve, max_num_seqs=seqs)
    lo = min(found.max_rate / per, setup.hi)
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


# The objective's value of a fleet: every one grows with the fleet's number of GPUs.
OBJECTIVES: dict[str, Callable[[FleetCost], float]] = {
    "cost": lambda c: c.annual_cost_krw,
    "gpus": lambda c: float(c.gpus),
    "power": lambda c: c.facility_power_mw,
}
_UNITS = {"cost": (1e-9, "bn KRW/yr"), "gpus": (1.0, "GPUs"), "power": (1.0, "MW")}
KEEP = 5  # configurations ranked exactly; the report's charts show the top 5


@dataclass(frozen=True, slots=True)
class SizingResult:
    model: str
    demand: Demand
    slo: Slo
    results: tuple[CandidateResult, ...]
    objective: str

    @property
    def feasible(self) -> list[CandidateResult]:
        key = OBJECTIVES[self.objective]
        return sorted(
            (r for r in self.results if r.feasible and r.cost), key=lambda r: key(r.cost) if r.cost else 0.0
        )

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
    keep: int | None = KEEP,
    on_start: Callable[[Candidate], None] | None = None,
) -> SizingResult:
    """Evaluate the candidates through ``executor`` and rank the feasible ones by ``objective``.

    With ``keep`` (default 5), a candidate is not simulated once its ``fleet_floor`` is worse than
    the ``keep``-th best fleet found (``planner.sweep``): the top ``keep`` are exactly those of the
    exhaustive search, and the skipped candidates are listed, infeasible, with "not simulated" and
    their floor as the reason. ``keep=None`` simulates every candidate. ``on_start`` and
    ``on_done`` see each candidate handed to the executor and each result (progress display).
    """
    if objective not in OBJECTIVES:
        raise PlannerError(f"objective must be cost, gpus or power, not {objective!r}")
    planned = get_model(model)
    if not candidates:
        raise PlannerError("no candidate configurations to search")
    if not planned.is_moe and any(c.layout == moe_layout.DP_EP for c in candidates):
        raise PlannerError(
            f"layout dp-ep (attention data parallel + expert parallel) needs a mixture-of-experts "
            f"model; {planned.id} is dense: search --layouts tp"
        )
    jobs = [SizingJob(model, c, demand, slo, cost_inputs or CostInputs(), seed=seed) for c in candidates]
    key = OBJECTIVES[objective]
    scale, unit = _UNITS[objective]

    def floor(job: SizingJob) -> float:
        fleet = fleet_floor(job)
        return key(fleet) if fleet is not None else -math.inf

    def skipped(job: SizingJob, value: float, bar: float) -> CandidateResult:
        return CandidateResult(
            job.candidate,
            False,
            f"not simulated: needs at least {value * scale:,.2f} {unit}; the top {keep} found "
            f"need at most {bar * scale:,.2f}",
        )

    results: list[CandidateResult | None] = [None] * len(jobs)
    stream = sweep.run(
        jobs,
        executor,
        evaluate,
        floor,
        lambda r: key(r.cost) if r.feasible and r.cost else None,
        skipped,
        keep,
        (lambda job: on_start(job.candidate)) if on_start is not None else None,
    )
    for i, res in stream:
        results[i] = res
        if on_done is not None:
            on_done(res)
    return SizingResult(model, demand, slo, tuple(r for r in results if r is not None), objective)
