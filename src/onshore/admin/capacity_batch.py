"""Does a model's fleet, sized for its interactive peak, also carry its batch work?

Batch work (Batch API rows, organisations of the batch tier) has a completion window, not a
latency target: the gateway's fair queue runs it in a background lane on the capacity partners
leave. So it is not added to the peak hour's arrivals. Instead, for every UTC day of the period,
the fleet's daily capacity at its SLO rate (replicas x the rate per replica that still meets the SLO
x the interactive mix's tokens per request x 24 h) less that day's interactive tokens must hold
that day's batch tokens; the day with the least room left decides, and replicas are added only
when it is short.

Tokens are counted as prompt plus completion, at the interactive mix's ratio of the two: a batch
mix much heavier in prompts than the interactive one needs less than this says (prefill costs
less per token than decode), one heavier in answers more. It is a daily volume check, not a
simulation: it assumes the batch lane can be kept busy around the clock, as a 24-hour window allows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from onshore.planner.catalog import gpu as get_gpu
from onshore.planner.cost import CostInputs, FleetCost, fleet_cost
from onshore.planner.demand import SECONDS_PER_DAY, Demand
from onshore.planner.sizing import CandidateResult


@dataclass(frozen=True, slots=True)
class BatchFit:
    """The day that leaves the least room for a model's batch work, and what it takes."""

    day: datetime  # UTC midnight
    batch_tokens: float  # that day's batch tokens (growth applied)
    interactive_tokens: float  # that day's interactive tokens (growth applied)
    capacity_tokens: float  # the interactive fleet's tokens a day at its SLO rate
    replica_tokens: float  # one replica's share of that
    extra_replicas: int
    cost: FleetCost | None  # the whole fleet with the extra replicas; None when none are added

    @property
    def spare_tokens(self) -> float:
        return max(self.capacity_tokens - self.interactive_tokens, 0.0)

    @property
    def fits(self) -> bool:
        return self.extra_replicas == 0

    def describe(self) -> str:
        tokens = f"{_millions(self.batch_tokens)} tokens/day (busiest: {self.day:%Y-%m-%d})"
        if self.fits:
            return f"batch: {tokens} fit in the spare capacity ({_millions(self.spare_tokens)} tokens/day)"
        plural = "s" if self.extra_replicas > 1 else ""
        return (
            f"+{self.extra_replicas} replica{plural} for batch: {tokens} exceed the spare capacity "
            f"({_millions(self.spare_tokens)} tokens/day)"
        )


def batch_fit(
    best: CandidateResult,
    demand: Demand,
    interactive_days: Mapping[datetime, int],
    batch_days: Mapping[datetime, int],
    factor: float,
    batch_daily_tokens: float,
    costs: CostInputs,
) -> BatchFit | None:
    """The check for one model's ``best`` fleet; None without batch work.

    ``factor`` is the growth applied to both kinds of work; ``batch_daily_tokens`` the batch tokens
    of an average day (for the cost per token of the enlarged fleet).
    """
    if not batch_days or best.rate_per_replica <= 0 or best.replicas <= 0:
        return None
    per_request = demand.prompt.mean + demand.output.mean
    replica_tokens = best.rate_per_replica * per_request * SECONDS_PER_DAY
    capacity = replica_tokens * best.replicas

    def room(day: datetime) -> float:
        return capacity - (interactive_days.get(day, 0) + batch_days[day]) * factor

    day = min(batch_days, key=lambda d: (room(d), d))
    short = -room(day)
    extra = math.ceil(short / replica_tokens - 1e-9) if short > 0 else 0
    cost = None
    if extra and best.cost is not None:
        replicas = best.replicas + extra
        gpus = best.cost.gpus // best.replicas * replicas
        cost = fleet_cost(
            get_gpu(best.candidate.gpu),
            gpus,
            demand.daily_tokens + batch_daily_tokens,
            demand.daily_output_tokens,
            costs,
        )
    return BatchFit(
        day,
        batch_days[day] * factor,
        interactive_days.get(day, 0) * factor,
        capacity,
        replica_tokens,
        extra,
        cost,
    )


def _millions(tokens: float) -> str:
    return f"{tokens / 1e6:,.1f} M" if tokens >= 1e5 else f"{tokens:,.0f}"
