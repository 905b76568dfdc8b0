"""``UsageSeriesReader`` over a list of ledger rows, in Python: the recount the SQL rollup must equal.
It also answers ``hourly_demand`` and ``org_hourly_demand`` (the capacity plan's reads) by recount.

It sums the rows themselves (no rollup, no trigger), with the rules the rollup's SQL states:
UTC hours, days and months; errors are statuses of 400 and more; billable as ``onshore.domain.usage``
says; '' and None are one "none" group. Also a fake for the admin operations' unit tests.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime

from onshore.domain.demand import HourlyDemand, OrgHourlyDemand, TokenStats
from onshore.domain.usage import UsageRecord
from onshore.domain.usage_series import Bucket, GroupBy, PeakHour, SeriesPoint, histogram_of

_GROUP_FIELDS: dict[GroupBy, str] = {"org": "org_id", "model": "model", "backend": "backend"}


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def bucket_of(moment: datetime, bucket: Bucket) -> datetime:
    hour = hour_of(moment)
    if bucket == "hour":
        return hour
    if bucket == "day":
        return hour.replace(hour=0)
    return hour.replace(day=1, hour=0)


def billable(record: UsageRecord) -> bool:
    return (
        200 <= record.status < 300
        or record.total_tokens > 0
        or record.prompt_tokens > 0
        or record.completion_tokens > 0
    )


def recount(records: Iterable[UsageRecord], start: datetime, group: str | None) -> SeriesPoint:
    rows = list(records)
    return SeriesPoint(
        start=start,
        group=group,
        requests=len(rows),
        errors=sum(1 for r in rows if r.status >= 400),
        billable_requests=sum(1 for r in rows if billable(r)),
        prompt_tokens=sum(r.prompt_tokens for r in rows),
        cached_tokens=sum(r.cached_tokens for r in rows),
        completion_tokens=sum(r.completion_tokens for r in rows),
        total_tokens=sum(r.total_tokens for r in rows),
        cost_micro_krw=sum(r.cost_micro_krw or 0 for r in rows),
        latency_histogram=histogram_of(r.latency_ms for r in rows),
    )


class InMemoryUsageSeries:
    """``UsageSeriesReader`` over ``records`` (each counted once per ``request_id``, first one kept)."""

    def __init__(self, records: Iterable[UsageRecord] = ()) -> None:
        self._rows: dict[str, UsageRecord] = {}
        self.write_batch(list(records))

    def write_batch(self, records: list[UsageRecord]) -> None:
        for record in records:
            self._rows.setdefault(record.request_id, record)

    def _within(self, start: datetime, end: datetime, org_id: str | None) -> list[UsageRecord]:
        return [
            r
            for r in self._rows.values()
            if start <= hour_of(r.created_at) < end and (org_id is None or r.org_id == org_id)
        ]

    def usage_series(
        self,
        start: datetime,
        end: datetime,
        bucket: Bucket,
        group_by: GroupBy | None = None,
        org_id: str | None = None,
    ) -> list[SeriesPoint]:
        groups: dict[tuple[datetime, str], list[UsageRecord]] = defaultdict(list)
        for r in self._within(start, end, org_id):
            key = getattr(r, _GROUP_FIELDS[group_by]) if group_by else None
            groups[(bucket_of(r.created_at, bucket), key or "")].append(r)
        return [recount(rows, when, group or None) for (when, group), rows in sorted(groups.items())]

    def peak_hour(self, start: datetime, end: datetime, org_id: str | None = None) -> PeakHour | None:
        hours: dict[datetime, list[UsageRecord]] = defaultdict(list)
        for r in self._within(start, end, org_id):
            hours[hour_of(r.created_at)].append(r)
        if not hours:
            return None
        hour, rows = min(hours.items(), key=lambda item: (-len(item[1]), item[0]))
        point = recount(rows, hour, None)
        return PeakHour(
            hour=hour,
            requests=point.requests,
            billable_requests=point.billable_requests,
            prompt_tokens=point.prompt_tokens,
            completion_tokens=point.completion_tokens,
        )

    def hourly_demand(self, start: datetime, end: datetime, org_id: str | None = None) -> list[HourlyDemand]:
        groups: dict[tuple[datetime, str], list[UsageRecord]] = defaultdict(list)
        for r in self._billable_within(start, end, org_id):
            groups[(hour_of(r.created_at), r.model or "(none)")].append(r)
        return [demand_of(rows, hour, model) for (hour, model), rows in sorted(groups.items())]

    def org_hourly_demand(
        self, start: datetime, end: datetime, org_id: str | None = None
    ) -> list[OrgHourlyDemand]:
        groups: dict[tuple[datetime, str, bool, str, bool], list[UsageRecord]] = defaultdict(list)
        for r in self._billable_within(start, end, org_id):
            key = (hour_of(r.created_at), r.model or "(none)", r.org_id is not None, r.org_id or "")
            groups[(*key, r.batch_id is not None)].append(r)
        return [
            OrgHourlyDemand(org if has_org else None, batch, demand_of(rows, hour, model))
            for (hour, model, has_org, org, batch), rows in sorted(groups.items())
        ]

    def _billable_within(self, start: datetime, end: datetime, org_id: str | None) -> list[UsageRecord]:
        """Billable rows of ``start <= created_at < end`` (the demand reads cut at the instant)."""
        return [
            r
            for r in self._rows.values()
            if start <= r.created_at < end and billable(r) and org_id in (None, r.org_id)
        ]


def demand_of(rows: list[UsageRecord], hour: datetime, model: str) -> HourlyDemand:
    return HourlyDemand(
        hour,
        model,
        len(rows),
        sum(1 for r in rows if r.streamed),
        _stats([r.prompt_tokens for r in rows]),
        _stats([r.completion_tokens for r in rows]),
    )


def _stats(counts: list[int]) -> TokenStats:
    logs = [math.log(max(c, 1)) for c in counts]
    return TokenStats(sum(counts), sum(logs), sum(x * x for x in logs), max(counts, default=0))


def ledger_record(request_id: str, at: datetime, **overrides: object) -> UsageRecord:
    """A ledger row of a plain chat completion at ``at`` (10 + 5 tokens, 200), ``overrides`` applied."""
    base = UsageRecord(
        request_id=request_id,
        created_at=at,
        org_id="org_a",
        key_id="key_a",
        endpoint="chat.completions",
        model="llama",
        backend="pool-a",
        status=200,
        streamed=False,
        prompt_tokens=10,
        completion_tokens=5,
        total_tokens=15,
        latency_ms=40.0,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]
