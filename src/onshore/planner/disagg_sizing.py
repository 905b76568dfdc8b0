"""Sizing a disaggregated fleet: the cheapest prefill and decode pools meeting p99 TTFT and TPOT.

The pools are sized separately, each by bisection on the arrival rate one of its replicas
sustains (a few replicas simulated, as ``planner.sizing`` does for aggregated replicas):

1. Decode: the highest rate per decode replica whose p99 TPOT meets the SLO and whose own share
   of TTFT (admission and first step) stays within half the TTFT SLO; requests arrive with their
   prompts already in KV (``planner.disagg``).
2. Transfer: the p99 KV transfer time of the demand's prompts on the link.
3. Prefill: the highest rate per prefill replica whose p99 time to finish a prompt fits what is
   left of the TTFT SLO after steps 1 and 2.

The fleet is then ``ceil(peak / rate)`` replicas in each pool, checked end to end by simulating
the two pools together at the peak (scaled down to at most 64 replicas in the same proportion)
and grown by 10 % if that check misses an SLO. The transfer link is NVLink only where the
scale-up domain spans nodes (GB200 NVL72: a rack holds whole prefill/decode groups), otherwise the
scale-out network.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from onshore.planner import disagg
from onshore.planner.catalog import gpu as get_gpu
from onshore.planner.catalog import model as get_model
from onshore.planner.cost import CostInputs, FleetCost, fleet_cost
from onshore.planner.demand import Demand
from onshore.planner.errors import PlannerError
from onshore.planner.perf import calibration as calib
from onshore.planner.perf import kv_transfer
from onshore.planner.perf.kv import kv_capacity_tokens
from onshore.planner.perf.roofline import ReplicaSpec
from onshore.planner.ports import Executor
from onshore.planner.sim import LengthDist, Workload, simulate, summarise
from onshore.planner.sim import workload as wl
from onshore.planner.sizing import OBJECTIVES, Candidate, CandidateResult, Slo, size

DECODE_TTFT_SHARE = 0.5  # of the TTFT SLO the decode pool's admission may take
CHECK_REPLICAS = 64


@dataclass(frozen=True, slots=True)
class DisaggCandidate:
    gpu: str
    precision: str
    prefill_tp: int
    decode_tp: int
    decode_seqs: int = 256
    engine: str = "vllm"
    link: str = "auto"  # see kv_transfer.LINKS; auto: see the module docstring

    @property
    def label(self) -> str:
        return (
            f"{self.gpu} {self.precision} disagg P:TP{self.prefill_tp} D:TP{self.decode_tp} "
            f"seqs{self.decode_seqs}"
        )


@dataclass(frozen=True, slots=True)
class DisaggJob:
    model: str
    candidate: DisaggCandidate
    demand: Demand
    slo: Slo
    cost_inputs: CostInputs = field(default_factory=CostInputs)
    sim_replicas: int = 8
    requests: int = 1000
    bisection_steps: int = 6
    seed: int = 0


@dataclass(frozen=True, slots=True)
class DisaggResult:
    candidate: DisaggCandidate
    feasible: bool
    reason: str = ""
    prefill_rate: float = 0.0  # requests/s per prefill replica within its share of the SLO
    decode_rate: float = 0.0
    transfer_p99_ms: float = 0.0
    layout: disagg.Layout | None = None
    at_peak: dict[str, float] = field(default_factory=dict)
    cost: FleetCost | None = None


def _link(c: DisaggCandidate) -> kv_transfer.KvLink:
    g = get_gpu(c.gpu)
    if c.link != "auto":
        return kv_transfer.link(g, c.link)
    return kv_transfer.link(g, "scaleup" if g.scaleup_domain > g.gpus_per_node else "scaleout")


def _bisect(ok: Callable[[float], bool], hi: float, steps: int) -> float:
    """The highest rate found to pass, or 0 when even ``hi / 16`` fails (geometric bisection)."""
    lo = hi / 16.0
    if not ok(lo):
        return 0.0
    for _ in range(steps):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo


def _poisson(job: DisaggJob, rate: float, n: int, prompt: LengthDist, output: LengthDist) -> Workload:
    rng = np.random.default_rng(job.seed)
    return wl.with_prefix_hits(wl.poisson(rng, rate, n, prompt, output), job.demand.prefix_hit_rate)


def evaluate_disagg(job: DisaggJob) -> DisaggResult:
    """Rates per replica of each pool, the fleet at the peak and its cost (picklable, like sizing)."""
    c, slo, n_sim = job.candidate, job.slo, job.sim_replicas
    try:
        base = ReplicaSpec(get_model(job.model), get_gpu(c.gpu), c.prefill_tp, c.precision)
        pre, dec = disagg.pools(
            base,
            calib.shipped(c.engine, base.gpu.vendor),
            disagg.Layout(n_sim, c.prefill_tp, n_sim, c.decode_tp),
            c.decode_seqs,
        )
        cap = min(kv_capacity_tokens(pre.spec), kv_capacity_tokens(dec.spec)) // 2
    except PlannerError as exc:
        return DisaggResult(c, False, str(exc))
    prompt = replace(job.demand.prompt, low=1, high=min(job.demand.prompt.high, cap))
    output = replace(job.demand.output, low=1, high=cap)
    ctx = prompt.mean + output.mean / 2
    if float(dec.step.decode_step(1.0, ctx)) * 1e3 > slo.tpot_p99_ms:
        return DisaggResult(c, False, "TPOT SLO missed even at batch 1")
    kv = _link(c)
    lengths = prompt.sample(np.random.default_rng(job.seed), 2000)
    xfer_ms = float(np.percentile(kv_transfer.transfer_s(pre.spec, dec.spec, lengths, kv), 99)) * 1e3
    decode_ttft: dict[float, float] = {}

    def decode_ok(rate: float) -> bool:
        work = _poisson(job, rate * n_sim, job.requests, prompt, output)
        handed = replace(work, cached=np.maximum(work.prompt - 1, 0))
        s = summarise(simulate(dec.step, dec.cfg, handed, n_sim, np.random.default_rng(job.seed)), 0.2)
        decode_ttft[rate] = s.ttft_p99_ms
        return s.tpot_p99_ms <= slo.tpot_p99_ms and s.ttft_p99_ms <= DECODE_TTFT_SHARE * slo.ttft_p99_ms

    kv_tokens = kv_capacity_tokens(dec.spec)
    batch = min(c.decode_seqs, max(kv_tokens / (prompt.mean + output.mean), 1.0))
    r_dec = _bisect(
        decode_ok, batch / float(dec.step.decode_step(batch, ctx)) / output.mean, job.bisection_steps
    )
    if r_dec <= 0:
        return DisaggResult(
            c, False, "decode pool misses the SLOs even at 1/16 of its bound", transfer_p99_ms=xfer_ms
        )
    budget_ms = slo.ttft_p99_ms - xfer_ms - decode_ttft[r_dec]
    if budget_ms <= 0:
        return DisaggResult(
            c, False, "no TTFT left for prefill after transfer and decode admission", 0.0, r_dec, xfer_ms
        )

    def prefill_ok(rate: float) -> bool:
        work = _poisson(job, rate * n_sim, job.requests, prompt, output)
        only = replace(work, output=np.ones(work.n, dtype=np.int64))
        s = summarise(simulate(pre.step, pre.cfg, only, n_sim, np.random.default_rng(job.seed)), 0.2)
        return s.ttft_p99_ms <= budget_ms

    per_step = max(1.0, pre.cfg.max_batched_tokens / prompt.mean)
    hi = 1.5 * per_step / float(pre.step.prefill_step(prompt.mean, per_step))
    r_pre = _bisect(prefill_ok, hi, job.bisection_steps)
    if r_pre <= 0:
        return DisaggResult(
            c, False, "prefill pool misses its TTFT share even at 1/16 of its bound", 0.0, r_dec, xfer_ms
        )
    peak = job.demand.peak_rps
    layout = disagg.Layout(math.ceil(peak / r_pre), c.prefill_tp, math.ceil(peak / r_dec), c.decode_tp)
    at_peak = _check(job, base, layout, kv, prompt, output)
    if not (at_peak["ttft_p99_ms"] <= slo.ttft_p99_ms and at_peak["tpot_p99_ms"] <= slo.tpot_p99_ms):
        layout = disagg.Layout(
            math.ceil(layout.prefill_replicas * 1.1),
            c.prefill_tp,
            math.ceil(layout.decode_replicas * 1.1),
            c.decode_tp,
        )
    d = job.demand
    cost = fleet_cost(get_gpu(c.gpu), layout.gpus, d.daily_tokens, d.daily_output_tokens, job.cost_inputs)
    return DisaggResult(c, True, "", r_pre, r_dec, xfer_ms, layout, at_peak, cost)


def _check(
    job: DisaggJob,
    base: ReplicaSpec,
    layout: disagg.Layout,
    kv: kv_transfer.KvLink,
    prompt: LengthDist,
    output: LengthDist,
) -> dict[str, float]:
    """Both pools together at the peak, scaled down to <= CHECK_REPLICAS replicas in proportion."""
    p, d = layout.prefill_replicas, layout.decode_replicas
    scale = min(1.0, CHECK_REPLICAS / (p + d))
    ps, ds = max(1, round(p * scale)), max(1, round(d * scale))
    rate = job.demand.peak_rps * min(ps / p, ds / d)
    c = job.candidate
    pre, dec = disagg.pools(
        base,
        calib.shipped(c.engine, base.gpu.vendor),
        disagg.Layout(ps, c.prefill_tp, ds, c.decode_tp),
        c.decode_seqs,
    )
    work = _poisson(job, rate, max(job.requests, 40 * (ps + ds)), prompt, output)
    run = disagg.simulate_disagg(pre, dec, work, kv, np.random.default_rng(job.seed))
    return summarise(run.result, 0.2).as_dict()


def default_disagg_candidates(
    gpus: Sequence[str],
    prefill_tps: Sequence[int],
    decode_tps: Sequence[int],
    precisions: Sequence[str],
    decode_seqs: Sequence[int] = (256,),
    engine: str = "vllm",
) -> list[DisaggCandidate]:
    """The cross product, minus FP4 on GPUs without FP4 cores and TPs past the scale-up domain."""
    out: list[DisaggCandidate] = []
    for g in gpus:
        spec = get_gpu(g)
        for p in precisions:
            if p == "fp4" and spec.fp4_tflops <= 0:
                continue
            out.extend(
                DisaggCandidate(spec.id, p, tp_p, tp_d, s, engine)
                for tp_p in prefill_tps
                for tp_d in decode_tps
                for s in decode_seqs
                if max(tp_p, tp_d) <= spec.scaleup_domain
            )
    return out


def size_disagg(
    model: str,
    demand: Demand,
    slo: Slo,
    candidates: Sequence[DisaggCandidate],
    executor: Executor,
    cost_inputs: CostInputs | None = None,
    objective: str = "cost",
    seed: int = 0,
    on_done: Callable[[DisaggResult], None] | None = None,
) -> list[DisaggResult]:
    """Every candidate evaluated through ``executor``: the feasible ones first, best ``objective`` first.

    ``on_done`` is called with each result as it arrives (a progress bar)."""
    if objective not in OBJECTIVES:
        raise PlannerError(f"objective must be cost, gpus or power, not {objective!r}")
    get_model(model)
    jobs = [DisaggJob(model, c, demand, slo, cost_inputs or CostInputs(), seed=seed) for c in candidates]
    results: list[DisaggResult | None] = [None] * len(jobs)
    for i, res in executor.map_unordered(evaluate_disagg, jobs):
        results[i] = res
        if on_done is not None:
            on_done(res)
    key = OBJECTIVES[objective]
    done = [r for r in results if r is not None]
    return sorted(done, key=lambda r: (not r.feasible, key(r.cost) if r.cost else math.inf))


@dataclass(frozen=True, slots=True)
class Comparison:
    """The best aggregated and the best disaggregated fleet for one demand and SLO."""

    aggregated: CandidateResult | None
    disaggregated: DisaggResult | None
    objective: str

    @property
    def gain(self) -> float:
        """How many times more the aggregated fleet needs (objective); > 1 favours disaggregation."""
        a, d = self.aggregated, self.disaggregated
        if a is None or a.cost is None or d is None or d.cost is None:
            return math.nan
        key = OBJECTIVES[self.objective]
        return key(a.cost) / key(d.cost)


def compare(
    model: str,
    demand: Demand,
    slo: Slo,
    aggregated: Sequence[Candidate],
    disaggregated: Sequence[DisaggCandidate],
    executor: Executor,
    cost_inputs: CostInputs | None = None,
    objective: str = "cost",
    seed: int = 0,
) -> Comparison:
    """Size both ways (``sizing.size`` and :func:`size_disagg`) and keep each one's best."""
    agg = size(model, demand, slo, aggregated, executor, cost_inputs, objective, seed=seed).best
    dis = size_disagg(model, demand, slo, disaggregated, executor, cost_inputs, objective, seed)
    best = dis[0] if dis and dis[0].feasible else None
    return Comparison(agg, best, objective)
