"""Capacity planning on the ledger's own demand: "the busiest hour of last month, grown by X %".

``plan_capacity`` reads a month of the ledger through ``UsageReader.org_hourly_demand`` (one GROUP
BY: per UTC hour, model, organisation and Batch API flag), each organisation's tier from the limits
store, finds the busiest UTC hour of interactive traffic, and sizes one fleet per served model with
the planner: each model at its own busiest hour (a fleet serves one model, so a model whose traffic
peaks at another hour than the total would be undersized at the total's peak; the report names
both), its arrival rate ``requests / 3600 x (1 + growth)``, its prompt and answer lengths as
observed then, to the strictest SLO of the tiers whose organisations sent it traffic then
(``capacity_tiers`` says why). Batch work (Batch API rows, batch-tier organisations) is kept out of
the peak and checked against the fleet's spare daily capacity (``capacity_batch``); a model with
batch work only is sized at its busiest day's average rate, to the standard tier's SLO. A served
model the planner catalog does not know is listed as not sized, with the reason, never guessed.
The console's Capacity page and ``onshore plan size --from-ledger`` both call it.

The search space is small by default (``CapacityOptions``: three GPU types, FP8, TP 1-8) and
pruned where a configuration cannot win (``capacity_search``), so a plan of one model takes a few
seconds on one core; it runs in the calling thread unless an ``Executor`` is given, so a web face
calls it off its event loop.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

__all__ = ["CapacityOptions", "CapacityPlan", "LedgerAccess", "ModelPlan", "plan_capacity", "previous_month"]

from onshore.admin.capacity_demand import PeakHour, busiest_hour, match_model, model_peaks, requests_by_model
from onshore.admin.capacity_model import ModelPlan, MonthDemand, plan_model
from onshore.admin.capacity_report import capacity_html
from onshore.admin.capacity_tiers import override_slos, split_demand
from onshore.admin.tenancy import require_org
from onshore.admin.usage import month_bounds
from onshore.config.settings import Settings
from onshore.errors import InvalidRequest
from onshore.planner.cost import CostInputs, FleetCost
from onshore.planner.disagg_sizing import DisaggCandidate, DisaggResult, default_disagg_candidates
from onshore.planner.errors import PlannerError
from onshore.planner.ports import Executor
from onshore.planner.sizing import Candidate, CandidateResult, Slo, default_candidates
from onshore.ports import LimitsStore, TenancyStore, UsageReader

ProgressCallback = Callable[[int, int], None]  # (configurations done, configurations in all)


class LedgerAccess(Protocol):
    """What the operation reads: the organisations (names), their tiers and the ledger."""

    @property
    def tenancy(self) -> TenancyStore: ...
    @property
    def limits(self) -> LimitsStore: ...
    @property
    def usage(self) -> UsageReader: ...


@dataclass(frozen=True, slots=True)
class CapacityOptions:
    """The search space, SLOs, money and model mapping of a capacity plan."""

    slo: Slo = field(default_factory=Slo)  # the standard tier's, and any tier's not in tier_slos
    tier_slos: Mapping[str, Slo] = field(default_factory=dict)  # tier name -> its SLO
    gpus: tuple[str, ...] = ("h100", "h200", "b200")
    tensor_parallel: tuple[int, ...] = (1, 2, 4, 8)
    precisions: tuple[str, ...] = ("fp8",)
    max_num_seqs: tuple[int, ...] = (0,)  # 0: the engine's shipped default, tuned up to the KV limit
    engine: str = "vllm"
    objective: str = "cost"
    costs: CostInputs = field(default_factory=CostInputs)
    # served model name -> planner catalog id, for names the catalog does not know by itself
    model_map: Mapping[str, str] = field(default_factory=dict)
    # served model name -> the names backends serve it by upstream (often a Hugging Face id)
    upstreams: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # The targets ("ttft_p99_ms", "tpot_p99_ms") set for this run over every tier (with_slo_override)
    slo_overridden: tuple[str, ...] = ()
    # Who set each of those, as the report names it ("command line", "scenario file"); a target
    # overridden but not listed here reads "command line"
    slo_set_by: Mapping[str, str] = field(default_factory=dict)
    # Also size separate prefill and decode pools per model (every GPU x precision x TP pair of the
    # search space; decode max batch 256 where max_num_seqs is the engine default 0)
    disaggregated: bool = False

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> CapacityOptions:
        """Options from the config's ``planner`` section and its backends, then ``overrides``."""
        p = settings.planner
        upstreams: dict[str, tuple[str, ...]] = {}
        for backend in settings.backends:
            for m in backend.models:
                if m.upstream_name and m.upstream_name not in upstreams.get(m.name, ()):
                    upstreams[m.name] = (*upstreams.get(m.name, ()), m.upstream_name)
        tier_slos: dict[str, Slo] = {
            str(tier): Slo(t.ttft_p99_ms or p.ttft_p99_ms, t.tpot_p99_ms or p.tpot_p99_ms)
            for tier, t in p.tier_slos.items()
        }
        base = cls(
            slo=Slo(p.ttft_p99_ms, p.tpot_p99_ms),
            tier_slos=tier_slos,
            gpus=tuple(p.gpus),
            tensor_parallel=tuple(p.tensor_parallel),
            precisions=tuple(p.precisions),
            model_map=dict(p.models),
            upstreams=upstreams,
        )
        return dataclasses.replace(base, **overrides)

    def with_slo_override(
        self, ttft_p99_ms: float | None, tpot_p99_ms: float | None, set_by: Mapping[str, str] | None = None
    ) -> CapacityOptions:
        """These options with each target given replacing that target of every interactive tier's SLO
        (``planner.tier_slos`` included); the plan's report says which targets came from here, and
        who set each (``set_by``: target -> "scenario file", ...; "command line" when not listed).

        Raises:
            InvalidRequest: a target of 0 or less.
        """
        try:
            slo, tier_slos = override_slos(self.slo, self.tier_slos, ttft_p99_ms, tpot_p99_ms)
        except PlannerError as exc:
            raise InvalidRequest(str(exc), param="slo") from None
        given = (("ttft_p99_ms", ttft_p99_ms), ("tpot_p99_ms", tpot_p99_ms))
        overridden = tuple(name for name, value in given if value is not None)
        by = {name: (set_by or {}).get(name, "command line") for name in overridden}
        return dataclasses.replace(
            self, slo=slo, tier_slos=tier_slos, slo_overridden=overridden, slo_set_by=by
        )


@dataclass(frozen=True, slots=True)
class CapacityPlan:
    """A capacity plan from the ledger. ``peak`` is None when the month had no billable traffic."""

    month: str
    period_start: datetime
    period_end: datetime
    org: str | None
    growth_percent: float
    options: CapacityOptions
    message: str
    requests: int = 0  # billable requests of the month (of ``org`` when given), batch work included
    batch_requests: int = 0  # of which batch work (Batch API rows, batch-tier organisations)
    peak: PeakHour | None = None
    models: tuple[ModelPlan, ...] = ()
    elapsed_s: float = 0.0
    html: str = ""
    # No interactive traffic at all: ``peak`` is then the busiest hour of batch work, which nothing
    # is sized for (each model is sized for its busiest day of batch work instead).
    batch_only: bool = False

    @property
    def sized(self) -> list[ModelPlan]:
        return [m for m in self.models if m.sizing is not None]

    @property
    def not_sized(self) -> list[ModelPlan]:
        """Served models without a planner equivalent (their traffic is in no fleet)."""
        return [m for m in self.models if m.sizing is None]

    @property
    def total_gpus(self) -> int:
        return sum(c.gpus for c in self._costs)

    @property
    def total_facility_mw(self) -> float:
        return sum(c.facility_power_mw for c in self._costs)

    @property
    def total_annual_cost_krw(self) -> float:
        return sum(c.annual_cost_krw for c in self._costs)

    @property
    def _costs(self) -> list[FleetCost]:
        return [c for c in (m.fleet_cost for m in self.models) if c is not None]


def previous_month(now: datetime) -> str:
    """The last complete UTC month before ``now``, as YYYY-MM."""
    first = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return f"{first - timedelta(days=1):%Y-%m}"


def plan_capacity(
    store: LedgerAccess,
    *,
    month: str | None = None,
    growth_percent: float = 0.0,
    org_name: str | None = None,
    options: CapacityOptions | None = None,
    executor: Executor | None = None,
    now: datetime | None = None,
    on_progress: ProgressCallback | None = None,
) -> CapacityPlan:
    """Size the fleets for ``month`` (default: the last complete month, UTC) grown by ``growth_percent``.

    Raises:
        InvalidRequest: a bad month, growth (-100 % or less), GPU id, precision or objective.
        NotFound: no organisation named ``org_name``.
        StoreError: the ledger cannot be read.
    """
    began = time.perf_counter()
    opts = options or CapacityOptions()
    if not math.isfinite(growth_percent) or growth_percent <= -100:
        raise InvalidRequest("growth must be a number of percent above -100", param="growth")
    moment = now or datetime.now(UTC)
    month = month or previous_month(moment)
    start, end = month_bounds(month)
    org_id = require_org(store.tenancy, org_name).id if org_name is not None else None
    candidates = _candidates(opts)
    pool_candidates = _pool_candidates(opts) if opts.disaggregated else []
    rows = store.usage.org_hourly_demand(start, end, org_id)
    base = CapacityPlan(month, start, end, org_name, growth_percent, opts, "")
    if not rows:
        where = f" for {org_name}" if org_name is not None else ""
        return _finish(dataclasses.replace(base, message=f"no traffic in {month}{where}"), began)
    tiers = {i: lim.tier for i, lim in store.limits.limits_snapshot().orgs.items() if lim.tier is not None}
    split = split_demand(rows, tiers)
    # The current month counts only the days gone by, so its daily volume is not diluted.
    days = max((min(end, moment) - start).total_seconds(), 3600.0) / 86_400
    month_demand = MonthDemand(
        rows,
        split,
        tiers,
        {o.id: o.name for o in store.tenancy.list_orgs()},
        model_peaks(split.interactive),
        days,
        1 + growth_percent / 100,
        opts,
    )
    totals = requests_by_model([*split.interactive, *split.batch])
    matches = [match_model(m, opts.model_map, opts.upstreams) for m in totals]
    todo = sum(1 for m in matches if m.planner_model is not None) * (len(candidates) + len(pool_candidates))
    progress = _Progress(todo, on_progress)
    plans = [
        plan_model(m, totals[m.served], month_demand, candidates, executor, progress.step, pool_candidates)
        for m in matches
    ]
    batch = sum(p.batch_requests for p in plans)
    result = dataclasses.replace(
        base,
        requests=sum(totals.values()),
        batch_requests=batch,
        peak=busiest_hour(split.interactive) or busiest_hour(split.batch),
        models=tuple(plans),
        message=_summary(plans, month, batch, interactive=bool(split.interactive)),
        batch_only=not split.interactive,
    )
    return _finish(result, began)


def _candidates(opts: CapacityOptions) -> list[Candidate]:
    if opts.objective not in ("cost", "gpus", "power"):
        raise InvalidRequest(
            f"objective must be cost, gpus or power, not {opts.objective!r}", param="objective"
        )
    try:
        found = default_candidates(
            opts.gpus, opts.tensor_parallel, opts.precisions, opts.max_num_seqs, opts.engine
        )
    except PlannerError as exc:
        raise InvalidRequest(str(exc), param="gpus") from None
    if not found:
        raise InvalidRequest("no GPU configuration to search: check the GPUs, precisions and TP degrees")
    return found


def _pool_candidates(opts: CapacityOptions) -> list[DisaggCandidate]:
    """The disaggregated search space: the same GPUs, precisions and TPs, for each pool."""
    seqs = [s for s in opts.max_num_seqs if s > 0] or [256]  # 0 (tuned) is the aggregated search's
    tps = opts.tensor_parallel
    return default_disagg_candidates(opts.gpus, tps, tps, opts.precisions, seqs, opts.engine)


class _Progress:
    def __init__(self, total: int, report: ProgressCallback | None) -> None:
        self.done, self.total, self.report = 0, total, report

    def step(self, _result: CandidateResult | DisaggResult) -> None:
        self.done += 1
        if self.report is not None:
            self.report(self.done, self.total)


def _summary(plans: Sequence[ModelPlan], month: str, batch: int, *, interactive: bool) -> str:
    sized = [p for p in plans if p.sizing is not None]
    if not sized:
        return f"no served model of {month} has a planner equivalent; nothing was sized"
    missing = [p.served for p in plans if p.sizing is None]
    met = [p for p in sized if p.best is not None]
    text = f"{len(sized)} model(s) sized for {month}, {len(met)} within the SLOs"
    if not interactive:
        text += (
            f"; no interactive traffic, only {batch:,} batch requests: each model sized for its busiest "
            "day of batch work spread over 24 h and checked against each day's batch volume"
        )
    elif batch:
        text += f"; {batch:,} batch requests kept out of the peak"
    return text + (f"; not sized (no planner model): {', '.join(missing)}" if missing else "")


def _finish(plan: CapacityPlan, began: float) -> CapacityPlan:
    timed = dataclasses.replace(plan, elapsed_s=time.perf_counter() - began)
    return dataclasses.replace(timed, html=capacity_html(timed))
