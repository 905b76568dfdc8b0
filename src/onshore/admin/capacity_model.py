"""One served model's plan within a capacity plan: its peak, the organisations and tiers at it, the
SLO that binds, its fleet, and whether the fleet also carries its batch work (``capacity`` says how
the month is read; ``capacity_tiers`` and ``capacity_batch`` the rules)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from onshore.admin.capacity_batch import BatchFit, batch_fit
from onshore.admin.capacity_demand import SECONDS_PER_HOUR, ModelMatch, planner_demand
from onshore.admin.capacity_search import pruned_size
from onshore.admin.capacity_tiers import (
    OrgAtPeak,
    SplitDemand,
    busiest_day,
    orgs_at,
    strictest_slo,
    tokens_by_day,
)
from onshore.domain.demand import HourlyDemand, OrgHourlyDemand
from onshore.domain.limits import Tier
from onshore.errors import InvalidRequest
from onshore.planner.cost import FleetCost
from onshore.planner.demand import SECONDS_PER_DAY, Demand
from onshore.planner.disagg_sizing import DisaggCandidate, DisaggResult, size_disagg
from onshore.planner.errors import PlannerError
from onshore.planner.executor import SerialExecutor
from onshore.planner.ports import Executor
from onshore.planner.sizing import Candidate, CandidateResult, SizingResult, Slo

if TYPE_CHECKING:
    from onshore.admin.capacity import CapacityOptions


@dataclass(frozen=True, slots=True)
class ModelPlan:
    """One served model: its month, its busiest hour, who sent it then, its fleet (None: not sized)."""

    match: ModelMatch
    month_requests: int  # billable, batch work included
    peak: HourlyDemand  # its own busiest hour of interactive traffic (before growth)
    demand: Demand | None = None  # what the planner sized for (growth applied)
    sizing: SizingResult | None = None
    orgs: tuple[OrgAtPeak, ...] = ()  # the organisations at ``peak``, most requests first
    slo: Slo | None = None  # what it was sized to: the strictest of the tiers at ``peak``
    slo_tiers: tuple[str, ...] = ()  # the tiers that set ``slo``
    slo_overridden: tuple[str, ...] = ()  # its targets set for the run over every tier (the CLI's flags)
    slo_set_by: Mapping[str, str] = field(default_factory=dict)  # who set them (CapacityOptions.slo_set_by)
    batch_requests: int = 0  # of the month, kept out of the peak
    batch_only: bool = False  # no interactive traffic: ``peak`` is its busiest day of batch work
    batch: BatchFit | None = None  # whether the fleet carries the batch work (None: no batch work)
    # With CapacityOptions.disaggregated: prefill/decode pools sized for ``demand`` and ``slo``, best
    # first (None: not asked for, or not sized)
    pools: tuple[DisaggResult, ...] | None = None

    @property
    def served(self) -> str:
        return self.match.served

    @property
    def best(self) -> CandidateResult | None:
        return self.sizing.best if self.sizing else None

    @property
    def fleet_cost(self) -> FleetCost | None:
        """The fleet's cost with the replicas added for batch work, if any."""
        if self.batch is not None and self.batch.cost is not None:
            return self.batch.cost
        return self.best.cost if self.best else None


@dataclass(frozen=True, slots=True)
class MonthDemand:
    """What every model's plan reads: the month's rows, split, the tiers and names, growth."""

    rows: Sequence[OrgHourlyDemand]
    split: SplitDemand
    tiers: Mapping[str, Tier]
    names: Mapping[str, str]
    peaks: Mapping[str, HourlyDemand]  # each model's busiest hour of interactive traffic
    days: float
    factor: float
    opts: CapacityOptions


def plan_model(
    match: ModelMatch,
    month_requests: int,
    m: MonthDemand,
    candidates: Sequence[Candidate],
    executor: Executor | None,
    on_done: Callable[[CandidateResult | DisaggResult], None],
    pool_candidates: Sequence[DisaggCandidate] = (),
) -> ModelPlan:
    served = match.served
    batch_requests = sum(r.requests for r in m.split.batch if r.model == served)
    interactive_peak = m.peaks.get(served)
    peak = interactive_peak or busiest_day(m.split.batch, served)
    assert peak is not None  # the model has rows of one kind or the other
    orgs = orgs_at(m.rows, served, peak.hour, m.tiers, m.names) if interactive_peak else ()
    tiers = (o.tier for o in orgs)
    slo, slo_tiers = strictest_slo(tiers, m.opts.tier_slos, m.opts.slo, m.opts.slo_overridden)
    plan = ModelPlan(
        match,
        month_requests,
        peak,
        orgs=orgs,
        slo=slo,
        slo_tiers=slo_tiers,
        slo_overridden=m.opts.slo_overridden,
        slo_set_by=m.opts.slo_set_by,
        batch_requests=batch_requests,
        batch_only=interactive_peak is None,
    )
    if match.planner_model is None:
        return plan
    if interactive_peak is None:
        # Batch work only: its 24-hour window lets it run at its busiest day's average rate.
        demand = planner_demand(peak, batch_requests, m.days, m.factor)
        demand = dataclasses.replace(demand, peak_rps=demand.peak_rps * SECONDS_PER_HOUR / SECONDS_PER_DAY)
    else:
        demand = planner_demand(peak, month_requests - batch_requests, m.days, m.factor)
    sizing = size_model(match.planner_model, demand, slo, candidates, m.opts, executor, on_done)
    fit = None
    if sizing.best is not None:
        batch_days = tokens_by_day(m.split.batch, served)
        batch_daily = sum(batch_days.values()) / max(m.days, 1.0 / 24) * m.factor
        interactive_days = {} if interactive_peak is None else tokens_by_day(m.split.interactive, served)
        fit = batch_fit(
            sizing.best, demand, interactive_days, batch_days, m.factor, batch_daily, m.opts.costs
        )
    pools = None
    if pool_candidates:
        # The same demand and SLO as the aggregated search, so the two answers compare.
        pools = size_pools(match.planner_model, demand, slo, pool_candidates, m.opts, executor, on_done)
    return dataclasses.replace(plan, demand=demand, sizing=sizing, batch=fit, pools=pools)


_Found = TypeVar("_Found")


def size_pools(
    model: str,
    demand: Demand,
    slo: Slo,
    candidates: Sequence[DisaggCandidate],
    opts: CapacityOptions,
    executor: Executor | None,
    on_done: Callable[[DisaggResult], None],
) -> tuple[DisaggResult, ...]:
    return tuple(_searched(size_disagg, model, demand, slo, candidates, opts, executor, on_done))


def size_model(
    model: str,
    demand: Demand,
    slo: Slo,
    candidates: Sequence[Candidate],
    opts: CapacityOptions,
    executor: Executor | None,
    on_done: Callable[[CandidateResult], None],
) -> SizingResult:
    return _searched(pruned_size, model, demand, slo, candidates, opts, executor, on_done)


def _searched(
    search: Callable[..., _Found],
    model: str,
    demand: Demand,
    slo: Slo,
    candidates: Sequence[Any],
    opts: CapacityOptions,
    executor: Executor | None,
    on_done: Callable[[Any], None],
) -> _Found:
    """One sizing search (aggregated or disaggregated) with the planner's refusals (an engine
    profile, an SLO) translated to the admin API's error."""
    try:
        return search(
            model,
            demand,
            slo,
            candidates,
            executor or SerialExecutor(),
            opts.costs,
            opts.objective,
            on_done=on_done,
        )
    except PlannerError as exc:
        raise InvalidRequest(str(exc)) from None
