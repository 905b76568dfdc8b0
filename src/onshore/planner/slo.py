"""SLO capacity: the highest Poisson arrival rate a system sustains within p99 TTFT and TPOT limits.

This is MLPerf Inference's Server question and the sizing question, answered by search:

- **A ceiling.** No open-loop rate above the system's saturated throughput is sustainable: the
  queue grows for as long as the run lasts. A run of finitely many requests can hide that (if
  every request fits in one burst, any rate "passes"), so the search starts at the saturated
  throughput, simulated from a steady state (:func:`steady_throughput`), and never reports more.
- **Common random numbers.** Every probe replays the same requests: one seed, the same
  exponential inter-arrival draws scaled by ``1 / rate`` and the same lengths, routed the same way.
  Two probes then differ only in how fast the same requests arrive, so the measured p99s move
  with the rate and not with sampling noise, and the search is deterministic for a seed.
- **Bracket by doubling** from the start on the grid ``start · 2^k`` (down while the SLOs fail;
  up while they hold, unless the start is the ceiling); going down stops, with no capacity, once a
  failing rate leaves the system nearly idle or halving it no longer lowers the p99s.
- **Bisection** on the exponent (geometric midpoints) until the bracket ``[lo, hi]`` is within a
  relative ``tolerance`` (1 % by default: seven halvings of a factor-2 bracket). Midpoints of a
  fixed grid anchored at the start make the answer the largest grid rate that meets the SLOs, so
  looser limits never give a lower capacity when p99 rises with the rate.

The answer is the ``lo`` end: a rate that was simulated and met both limits.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from onshore.planner.errors import PlannerError
from onshore.planner.perf.kv import BLOCK_TOKENS
from onshore.planner.perf.roofline import StepModel
from onshore.planner.sim import EngineConfig, LengthDist, Summary, simulate, summarise
from onshore.planner.sim import workload as wl

DEFAULT_TOLERANCE = 0.01
MAX_DOUBLINGS = 16  # 2^16 either way of the estimate: far beyond any estimate's error
# Going down stops when lower rates cannot help: a failing rate that keeps the replicas busy less
# than this fraction of the time, or whose p99s are within PLATEAU of the rate twice as high
# (latency no longer falls with load: it is one request's own).
IDLE_UTILISATION = 0.02
PLATEAU = 0.02
# The first fifth of arrivals is left out of the percentiles: the system starts empty, and those
# requests would make every rate look easier than it is in steady state.
WARMUP_FRACTION = 0.2
# The steady-state ceiling (``steady_throughput``): STEADY_REPLICAS replicas, each a batch in
# flight and a batch queued (two where the KV cache limits the batch), at least
# STEADY_MIN_REQUESTS counted over them. See docs/planner.md ("SLO capacity")
# for how it compares with all-at-once runs of 20,000 requests.
STEADY_REPLICAS = 4
STEADY_MIN_REQUESTS = 4000


@dataclass(frozen=True, slots=True)
class Slo:
    """Latency limits (p99, milliseconds)."""

    ttft_p99_ms: float = 2000.0
    tpot_p99_ms: float = 60.0

    def __post_init__(self) -> None:
        if not (self.ttft_p99_ms > 0 and self.tpot_p99_ms > 0):
            raise PlannerError("SLO limits ttft_p99_ms and tpot_p99_ms must be > 0")

    def met_by(self, s: Summary) -> bool:
        return s.ttft_p99_ms <= self.ttft_p99_ms and s.tpot_p99_ms <= self.tpot_p99_ms


@dataclass(frozen=True, slots=True)
class Probe:
    """One simulated rate (requests/s for the whole system) and what it measured."""

    rate: float
    summary: Summary
    ok: bool


@dataclass(frozen=True, slots=True)
class SloCapacity:
    """The search's answer: ``max_rate`` (0 when no probed rate met the SLOs) and its summary."""

    max_rate: float
    at: Summary  # at max_rate; when infeasible, at the lowest rate probed
    probes: tuple[Probe, ...]
    reason: str = ""

    @property
    def feasible(self) -> bool:
        return self.max_rate > 0


Measure = Callable[[float], Summary]


class _Search:
    """The probes of one search, on the exponent grid ``start · 2^x``."""

    def __init__(self, measure: Measure, slo: Slo, start: float) -> None:
        self.measure, self.slo, self.start = measure, slo, start
        self.probes: list[Probe] = []

    def ok(self, x: float) -> bool:
        rate = self.start * 2.0**x
        summary = self.measure(rate)
        self.probes.append(Probe(rate, summary, self.slo.met_by(summary)))
        return self.probes[-1].ok

    def answer(self, x: float, reason: str = "") -> SloCapacity:
        rate = self.start * 2.0**x
        at = next(p.summary for p in self.probes if p.rate == rate)
        return SloCapacity(rate, at, tuple(self.probes), reason)

    def none(self) -> SloCapacity:
        low = min(self.probes, key=lambda p: p.rate)
        reason = f"SLOs missed even at {low.rate:.3g} requests/s ({low.summary.utilisation:.1%} busy)"
        return SloCapacity(0.0, low.summary, tuple(self.probes), reason)

    def up(self, doublings: int) -> tuple[float, float | None]:
        """From a passing 0: the last passing and first failing exponents (None: none failed)."""
        lo = 0.0
        for k in range(1, doublings + 1):
            if not self.ok(float(k)):
                return lo, float(k)
            lo = float(k)
        return lo, None

    def down(self, doublings: int) -> tuple[float | None, float]:
        """From a failing 0: the first passing and last failing exponents (None: none passed)."""
        hi = 0.0
        for k in range(1, doublings + 1):
            if _hopeless(self.probes):
                break
            if self.ok(-float(k)):
                return -float(k), hi
            hi = -float(k)
        return None, hi


def search(
    measure: Measure,
    slo: Slo,
    start: float,
    tolerance: float = DEFAULT_TOLERANCE,
    max_doublings: int = MAX_DOUBLINGS,
    ceiling: bool = False,
) -> SloCapacity:
    """The highest rate on the grid ``start · 2^x`` whose ``measure`` meets ``slo``, within
    ``tolerance``; with ``ceiling``, ``start`` is the most it may be (the saturated throughput)."""
    if not (start > 0 and math.isfinite(start)):
        raise PlannerError(f"the search needs a positive starting rate, got {start}")
    if not 0 < tolerance < 1:
        raise PlannerError(f"tolerance must be in (0, 1), got {tolerance}")
    run = _Search(measure, slo, start)
    if run.ok(0.0):
        if ceiling:
            return run.answer(0.0, "SLOs met at the saturated throughput, the most any rate can sustain")
        lo, top = run.up(max_doublings)
        if top is None:
            return run.answer(lo, f"SLOs still met at {2**max_doublings}x the estimate")
        hi = top
    else:
        bottom, hi = run.down(max_doublings)
        if bottom is None:
            return run.none()
        lo = bottom
    limit = math.log2(1.0 + tolerance)
    while hi - lo > limit:
        mid = (lo + hi) / 2.0
        if run.ok(mid):
            lo = mid
        else:
            hi = mid
    return run.answer(lo)


def _hopeless(probes: list[Probe]) -> bool:
    last = probes[-1].summary
    if last.utilisation < IDLE_UTILISATION:
        return True
    if len(probes) < 2:
        return False
    prev = probes[-2].summary
    return all(
        abs(a - b) <= PLATEAU * b
        for a, b in ((last.ttft_p99_ms, prev.ttft_p99_ms), (last.tpot_p99_ms, prev.tpot_p99_ms))
    )


def poisson_measure(
    step: StepModel,
    cfg: EngineConfig,
    replicas: int,
    prompt: LengthDist,
    output: LengthDist,
    requests: int,
    seed: int,
    prefix_hit_rate: float = 0.0,
) -> Measure:
    """Simulate ``requests`` Poisson arrivals at a given total rate, the same requests every call
    (with ``prefix_hit_rate`` of each prompt already in the prefix cache)."""

    def measure(rate: float) -> Summary:
        rng = np.random.default_rng(seed)  # common random numbers: a fresh copy of the same stream
        work = wl.with_prefix_hits(wl.poisson(rng, rate, requests, prompt, output), prefix_hit_rate)
        return summarise(simulate(step, cfg, work, replicas, rng), warmup_fraction=WARMUP_FRACTION)

    return measure


def steady_batch(cfg: EngineConfig, prompt: LengthDist, output: LengthDist) -> int:
    """Sequences one saturated replica runs: the max batch, or as many requests in flight as its KV
    cache holds. In flight, a request holds its prompt and the output generated so far: by
    length-biased sampling, E[P] + E[O(O - 1)] / (2 E[O]) on average: 1,200 + 326 tokens with
    Korea's lengths, 222 + 146 with MLPerf Llama 2 70B's fixed ones, where counting prompt +
    output would run 5 % and 28 % fewer (and read 10-14 % low on KV-bound MLPerf rows)."""
    rng = np.random.default_rng(0)  # the same mean for every call: the batch is a function of cfg
    p, o = prompt.sample(rng, 1 << 14).astype(np.float64), output.sample(rng, 1 << 14).astype(np.float64)
    held = p.mean() + float((o * (o - 1.0)).sum() / (2.0 * o.sum()))
    blocks = (held + 1.0) / BLOCK_TOKENS + 0.5 + cfg.swa_blocks_per_seq  # the last block half full
    return max(1, int(min(cfg.max_num_seqs, cfg.kv_blocks / blocks)))


def steady_throughput(
    step: StepModel,
    cfg: EngineConfig,
    replicas: int,
    prompt: LengthDist,
    output: LengthDist,
    seed: int,
    prefix_hit_rate: float = 0.0,
) -> float:
    """Requests/s ``replicas`` saturated replicas complete in the long run (replicas behind a
    round-robin router are independent once saturated: STEADY_REPLICAS are simulated).

    Each simulated replica starts full (:func:`steady_batch`) of requests part-way through
    decoding, as in a steady state (:func:`~onshore.planner.sim.workload.offline_in_flight`),
    with a batch more queued (at least STEADY_MIN_REQUESTS over the replicas). Its rate is its
    completions over their time until its queue runs dry (its last request starts: its first
    token) or its batch-th completion, and the run stops once each could have had that many (the
    drain is not simulated). Where the KV cache, not the max batch, limits the batch, the state
    seeded has no preemptions yet and admissions take a batch's lifetime to settle (+9 to +13 %
    on KV-bound MLPerf TensorRT-LLM rows, one batch): two batches are queued there, the first
    batch's completions left out. An all-at-once run (:func:`saturated_throughput`) needs ~16
    batches to read the same: in its first batches every slot starts together and the short
    requests finish first.
    """
    sim = STEADY_REPLICAS
    batch = steady_batch(cfg, prompt, output)
    skip = batch if batch < cfg.max_num_seqs else 0
    n = max(batch + skip, -(-STEADY_MIN_REQUESTS // sim) + skip)
    rng = np.random.default_rng(seed)
    work = wl.offline_in_flight(rng, sim * batch, sim * n, prompt, output, prefix_hit_rate)
    res = simulate(step, cfg, work, sim, rng, stop_after=sim * n)
    fresh = np.arange(work.n) >= sim * batch
    rate = 0.0
    for r in range(sim):
        mine = res.replica == r
        done = np.sort(res.finish[mine])  # unfinished (NaN) last
        started = res.first_token[mine & fresh]
        dry = float(started.max()) if np.isfinite(started).all() else math.inf
        end = min(float(done[min(n, int(np.isfinite(done).sum())) - 1]), dry)
        start = float(done[skip - 1]) if skip else 0.0
        rate += (int((done <= end).sum()) - skip) / max(end - start, 1e-9)
    return replicas * rate / sim


def saturated_throughput(
    step: StepModel,
    cfg: EngineConfig,
    replicas: int,
    prompt: LengthDist,
    output: LengthDist,
    requests: int,
    seed: int,
    prefix_hit_rate: float = 0.0,
) -> float:
    """Requests/s the system completes with every request queued at once, between the 10th and
    the 75th percentile of completions: the start-up and the drain (the last batch, emptying) left
    out, as a long run would dilute them. Steady only with many batches per replica (~16): with
    1.5, B200 TP1 FP4 at batch 1,024 (Korea example) reads 22.6 requests/s a replica, 16.5 with
    20,000 requests; :func:`steady_throughput` reads the long run from five batches."""
    rng = np.random.default_rng(seed)
    work = wl.with_prefix_hits(wl.offline(rng, requests, prompt, output), prefix_hit_rate)
    done = np.sort(simulate(step, cfg, work, replicas, rng).finish)
    a, b = len(done) // 10, (3 * len(done)) // 4
    span = float(done[b] - done[a])
    return (b - a) / span if span > 0 else len(done) / max(float(done[-1]), 1e-9)
