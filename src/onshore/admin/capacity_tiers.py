"""The ledger's demand by organisation and tier: what is peak traffic, who sent it, and which SLO it needs.

Pure functions over ``OrgHourlyDemand`` values (``UsageReader.org_hourly_demand``) and each
organisation's tier (the limits store; ``standard`` when none is set, as the gateway's fair queue
treats it).

- **Batch work is not peak traffic.** Rows of Batch API requests (``batch_id`` set) and every row of
  an organisation of the ``batch`` tier have no latency target: the fair queue serves them in a
  background lane, on the capacity partners leave. They are kept out of the peak hour's arrivals
  and checked against the fleet's spare daily capacity instead (``capacity_batch``).
- **The strictest SLO present binds.** The fair queue serves priority first, but requests of every
  interactive tier share the same replicas and batches; at the peak, a standard request delayed
  behind priority ones is what keeps priority's latency low, so sizing all the interactive traffic
  of a model to the strictest SLO among the tiers that sent it traffic then is the honest,
  conservative choice. Each of the two targets (TTFT, TPOT) is the smallest of those tiers'.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import reduce

from onshore.domain.demand import HourlyDemand, OrgHourlyDemand
from onshore.domain.limits import Tier
from onshore.planner.sizing import Slo

SECONDS_PER_HOUR = 3600.0
NO_ORG = "(no organisation)"
_TIER_ORDER = (Tier.PRIORITY, Tier.STANDARD, Tier.BATCH)


@dataclass(frozen=True, slots=True)
class OrgAtPeak:
    """One organisation's interactive traffic to a model in that model's busiest hour."""

    org_id: str | None
    name: str
    tier: Tier
    demand: HourlyDemand

    @property
    def requests_per_s(self) -> float:
        return self.demand.requests / SECONDS_PER_HOUR


@dataclass(frozen=True, slots=True)
class SplitDemand:
    """The rows per (hour, model): interactive (sized at the peak) and batch (spare capacity)."""

    interactive: tuple[HourlyDemand, ...]
    batch: tuple[HourlyDemand, ...]


def tier_of(org_id: str | None, tiers: Mapping[str, Tier]) -> Tier:
    return tiers.get(org_id, Tier.STANDARD) if org_id is not None else Tier.STANDARD


def is_batch_work(row: OrgHourlyDemand, tiers: Mapping[str, Tier]) -> bool:
    return row.batch or tier_of(row.org_id, tiers) is Tier.BATCH


def split_demand(rows: Iterable[OrgHourlyDemand], tiers: Mapping[str, Tier]) -> SplitDemand:
    """Interactive and batch rows, each summed per (hour, model), oldest hour then model first."""
    groups: tuple[dict[tuple[datetime, str], HourlyDemand], ...] = ({}, {})
    for row in rows:
        into = groups[is_batch_work(row, tiers)]
        at = (row.hour, row.model)
        into[at] = into[at] + row.demand if at in into else row.demand
    interactive, batch = (tuple(g[k] for k in sorted(g)) for g in groups)
    return SplitDemand(interactive, batch)


def orgs_at(
    rows: Iterable[OrgHourlyDemand],
    model: str,
    hour: datetime,
    tiers: Mapping[str, Tier],
    names: Mapping[str, str],
) -> tuple[OrgAtPeak, ...]:
    """The organisations that sent ``model`` interactive traffic in ``hour``, most requests first."""
    found = [
        OrgAtPeak(
            r.org_id,
            NO_ORG if r.org_id is None else names.get(r.org_id, r.org_id),
            tier_of(r.org_id, tiers),
            r.demand,
        )
        for r in rows
        if r.model == model and r.hour == hour and not is_batch_work(r, tiers)
    ]
    return tuple(sorted(found, key=lambda o: (-o.demand.requests, o.name)))


def strictest_slo(
    present: Iterable[Tier],
    tier_slos: Mapping[str, Slo],
    default: Slo,
    overridden: Collection[str] = (),
) -> tuple[Slo, tuple[str, ...]]:
    """The SLO to size for, and the tiers that set it (those that give one of its two targets).

    A tier without its own SLO takes ``default``; with no interactive tier present the answer is
    the standard tier's. A target in ``overridden`` ("ttft_p99_ms", "tpot_p99_ms") was set for
    every tier at once (``override_slos``), so no tier is named for it.
    """
    tiers = [t for t in _TIER_ORDER if t in set(present) and t is not Tier.BATCH] or [Tier.STANDARD]
    slos = {t: tier_slos.get(t.value, default) for t in tiers}
    ttft = min(s.ttft_p99_ms for s in slos.values())
    tpot = min(s.tpot_p99_ms for s in slos.values())
    binding = tuple(
        t.value
        for t, s in slos.items()
        if (s.ttft_p99_ms == ttft and "ttft_p99_ms" not in overridden)
        or (s.tpot_p99_ms == tpot and "tpot_p99_ms" not in overridden)
    )
    return Slo(ttft, tpot), binding


def override_slos(
    slo: Slo, tier_slos: Mapping[str, Slo], ttft_p99_ms: float | None, tpot_p99_ms: float | None
) -> tuple[Slo, dict[str, Slo]]:
    """``slo`` and every tier's SLO with each target given replaced by it (None: left as configured).

    A limit typed for one run (``--ttft-p99-ms``) is meant for the whole plan, not for the tiers
    the config happens not to list: so it replaces that target of every interactive tier.
    """

    def apply(s: Slo) -> Slo:
        return Slo(
            s.ttft_p99_ms if ttft_p99_ms is None else ttft_p99_ms,
            s.tpot_p99_ms if tpot_p99_ms is None else tpot_p99_ms,
        )

    return apply(slo), {tier: apply(s) for tier, s in tier_slos.items()}


def tokens_by_day(rows: Sequence[HourlyDemand], model: str) -> dict[datetime, int]:
    """Prompt plus completion tokens of ``model`` per UTC day (the day's midnight)."""
    days: dict[datetime, int] = {}
    for r in rows:
        if r.model == model:
            day = r.hour.replace(hour=0)
            days[day] = days.get(day, 0) + r.prompt.total + r.completion.total
    return days


def busiest_day(rows: Sequence[HourlyDemand], model: str) -> HourlyDemand | None:
    """``model``'s rows summed over its busiest UTC day (most requests; the earliest of equals),
    under that day's midnight."""
    days: dict[datetime, list[HourlyDemand]] = {}
    for r in rows:
        if r.model == model:
            days.setdefault(r.hour.replace(hour=0), []).append(r)
    if not days:
        return None
    day = min(days, key=lambda d: (-sum(r.requests for r in days[d]), d))
    total = reduce(lambda a, b: a + b, days[day])
    return HourlyDemand(day, model, total.requests, total.streamed, total.prompt, total.completion)
