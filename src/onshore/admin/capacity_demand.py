"""From the ledger's hourly demand to the planner's: the busiest hour, each model's own peak, and
which planner model a served model is.

Pure functions over ``HourlyDemand`` values (``UsageReader.hourly_demand``); the planner is only
handed its own ``Demand``, so it never learns about the ledger.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import reduce

from onshore.domain.demand import HourlyDemand, TokenStats
from onshore.planner.catalog import model as catalog_model
from onshore.planner.demand import SECONDS_PER_DAY, Demand
from onshore.planner.errors import PlannerError
from onshore.planner.sim.workload import LengthDist

SECONDS_PER_HOUR = 3600.0
# The longest prompt or answer the planner samples at least up to (its own default for a usage
# export); a ledger that saw longer ones raises it.
MIN_LENGTH_CAP = 16_384


@dataclass(frozen=True, slots=True)
class PeakHour:
    """One UTC hour of the ledger: its totals and, per model, what was served (most requests first)."""

    start: datetime
    requests: int
    streamed: int
    prompt: TokenStats
    completion: TokenStats
    models: tuple[HourlyDemand, ...]

    @property
    def requests_per_s(self) -> float:
        return self.requests / SECONDS_PER_HOUR

    @property
    def streamed_share(self) -> float:
        return self.streamed / self.requests if self.requests else 0.0


def busiest_hour(rows: Iterable[HourlyDemand]) -> PeakHour | None:
    """The hour with the most billable requests (the earliest of equals); None without any."""
    by_hour: dict[datetime, list[HourlyDemand]] = {}
    for row in rows:
        by_hour.setdefault(row.hour, []).append(row)
    if not by_hour:
        return None
    hour = min(by_hour, key=lambda h: (-sum(r.requests for r in by_hour[h]), h))
    models = tuple(sorted(by_hour[hour], key=lambda r: (-r.requests, r.model)))
    total = reduce(lambda a, b: a + b, models)
    return PeakHour(hour, total.requests, total.streamed, total.prompt, total.completion, models)


def model_peaks(rows: Iterable[HourlyDemand]) -> dict[str, HourlyDemand]:
    """Each model's own busiest hour (the earliest of equals)."""
    peaks: dict[str, HourlyDemand] = {}
    for row in rows:
        best = peaks.get(row.model)
        if best is None or (row.requests, -row.hour.timestamp()) > (best.requests, -best.hour.timestamp()):
            peaks[row.model] = row
    return peaks


def requests_by_model(rows: Iterable[HourlyDemand]) -> dict[str, int]:
    """Billable requests per model over all the rows, most first (then by name)."""
    totals: dict[str, int] = {}
    for row in rows:
        totals[row.model] = totals.get(row.model, 0) + row.requests
    return dict(sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])))


def planner_demand(peak: HourlyDemand, period_requests: int, days: float, factor: float) -> Demand:
    """The planner's demand for one model: its busiest hour as the peak rate, its lengths then.

    ``factor`` is the growth multiplier (1.2 for +20 %); ``days`` the days the period covers (up
    to now for the current month), for the daily volume the cost per token is spread over.
    """
    daily = period_requests / max(days, 1.0 / 24) * factor
    return Demand(
        daily_requests=daily,
        average_rps=daily / SECONDS_PER_DAY,
        peak_rps=peak.requests / SECONDS_PER_HOUR * factor,
        prompt=_lengths(peak.prompt_mean, peak.prompt_log_sigma, peak.prompt.largest),
        output=_lengths(peak.completion_mean, peak.completion_log_sigma, peak.completion.largest),
    )


def _lengths(mean: float, sigma: float, largest: int) -> LengthDist:
    return LengthDist(max(mean, 1.0), sigma, 1, max(MIN_LENGTH_CAP, largest))


@dataclass(frozen=True, slots=True)
class ModelMatch:
    """Which planner catalog model a served model is, and how that was decided (or why not)."""

    served: str
    planner_model: str | None
    how: str


def match_model(
    served: str, mapping: Mapping[str, str], upstreams: Mapping[str, Sequence[str]]
) -> ModelMatch:
    """The planner model for ``served``: the configured mapping first, then the served name itself
    in the catalog (ids, aliases, Hugging Face ids), then the upstream names backends serve it by.
    None, with the reason, when nothing matches: the caller says so instead of guessing."""
    if served in mapping:
        target = mapping[served]
        try:
            return ModelMatch(served, catalog_model(target).id, f"planner.models maps it to {target}")
        except PlannerError:
            return ModelMatch(
                served, None, f"planner.models maps it to {target!r}, which the planner catalog does not know"
            )
    for name, how in [(served, "its name is in the planner catalog")] + [
        (u, f"served upstream as {u}") for u in upstreams.get(served, ())
    ]:
        try:
            return ModelMatch(served, catalog_model(name).id, how)
        except PlannerError:
            continue
    return ModelMatch(
        served,
        None,
        "no planner model matches it: map it with planner.models in the config "
        "(ids from `onshore plan catalog`), or it is not a text generation model",
    )
