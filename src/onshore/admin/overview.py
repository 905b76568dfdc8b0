"""The dashboard's overview: requests, tokens, errors, latency and cost over time, ready to chart.

Read from the ledger's hourly rollup (``UsageSeriesReader``), so a page answers in milliseconds
whatever the size of the ledger. Times are UTC; days and months are UTC days and months (the months
invoices and quotas count in).

For the web face::

    view = overview(services.store.usage, services.store.tenancy,
                    period="month", bucket="day", group_by="org", now=clock.now())
    payload = overview_to_json(view)

Every series has one point per bucket of the window (``view.buckets``), zeros where nothing
happened, so the charts' x-axes line up; the ``top`` groups with the most requests get a series each
and the rest are summed into one series labelled ``other``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal

from onshore.admin.prices import krw_number
from onshore.admin.tenancy import require_org
from onshore.domain.limits import micro_to_krw
from onshore.domain.usage_series import BUCKETS, GROUP_BYS, Bucket, GroupBy, SeriesPoint, sum_points
from onshore.errors import InvalidRequest
from onshore.ports import TenancyStore, UsageSeriesReader

Period = Literal["day", "week", "month", "quarter", "year"]
PERIODS: dict[Period, timedelta] = {
    "day": timedelta(days=1),
    "week": timedelta(days=7),
    "month": timedelta(days=30),
    "quarter": timedelta(days=90),
    "year": timedelta(days=365),
}
# The bucket a period is charted in when none is asked for: a few dozen to a few hundred points.
DEFAULT_BUCKET: dict[Period, Bucket] = {
    "day": "hour",
    "week": "hour",
    "month": "day",
    "quarter": "day",
    "year": "month",
}
# Buckets per series at most. Hours for up to 8 days: a longer window of hours is more points than a
# chart can show, and each hour is a row of the hourly rollup per group to sum (a month of them took
# 0.6 s on a million-row ledger; a month of days is read from the daily rollup instead).
MAX_POINTS: dict[Bucket, int] = {"hour": 8 * 24, "day": 400, "month": 120}
DEFAULT_TOP = 8
OTHER = "other"
NONE_LABEL = "(none)"


@dataclass(frozen=True, slots=True)
class ChartPoint:
    """One bucket of one series. ``input_tokens`` are prompt tokens (cached ones included),
    ``output_tokens`` completion tokens; p50/p99 are None when there were no requests."""

    start: datetime
    requests: int
    input_tokens: int
    cached_tokens: int
    output_tokens: int
    errors: int
    p50_ms: float | None
    p99_ms: float | None
    cost_krw: Decimal

    @classmethod
    def of(cls, point: SeriesPoint) -> ChartPoint:
        return cls(
            start=point.start,
            requests=point.requests,
            input_tokens=point.prompt_tokens,
            cached_tokens=point.cached_tokens,
            output_tokens=point.completion_tokens,
            errors=point.errors,
            p50_ms=point.p50_ms,
            p99_ms=point.p99_ms,
            cost_krw=micro_to_krw(point.cost_micro_krw),
        )


@dataclass(frozen=True, slots=True)
class ChartSeries:
    """One line of a chart: a group (``key``: an organisation id, a model or a backend name; None
    for rows without one, for the whole when ungrouped, and for ``other``), its ``label`` to show
    (an organisation's name), its totals over the window and one point per bucket."""

    key: str | None
    label: str
    other: bool
    total: ChartPoint
    points: tuple[ChartPoint, ...]


@dataclass(frozen=True, slots=True)
class Overview:
    """What the overview page draws: ``[start, end)`` cut in ``bucket``s, the window's totals, and
    the series (one when ``group_by`` is None), busiest first, ``other`` last."""

    start: datetime
    end: datetime
    bucket: Bucket
    group_by: GroupBy | None
    org_id: str | None
    buckets: tuple[datetime, ...]
    total: ChartPoint
    series: tuple[ChartSeries, ...]


def overview(
    reader: UsageSeriesReader,
    tenancy: TenancyStore,
    *,
    period: Period | str = "day",
    bucket: Bucket | str | None = None,
    group_by: GroupBy | str | None = None,
    org_name: str | None = None,
    now: datetime,
    top: int = DEFAULT_TOP,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Overview:
    """The overview of the last ``period`` (or of ``[start, end)`` when both are given).

    Args:
        reader: ``services.store.usage``.
        tenancy: ``services.store.tenancy`` (organisation names).
        period: ``day`` (24 hours), ``week``, ``month`` (30 days), ``quarter`` (90) or ``year`` (365),
            ending with the current UTC hour; the window starts at the start of its first bucket.
        bucket: ``hour``, ``day`` or ``month``; by default the period's (``DEFAULT_BUCKET``).
        group_by: ``org``, ``model``, ``backend`` or None (one series, the whole).
        org_name: only this organisation's requests.
        now: the current time (``services.clock``), so tests and the page agree on "the last day".
        top: groups charted on their own (1 to 50); the others are summed as ``other``.
        start, end: an explicit window instead of ``period`` (cut to whole UTC hours).

    Raises:
        InvalidRequest: an unknown period, bucket or grouping, a window of more than ``MAX_POINTS``
            buckets (hours: 8 days), an empty window, or ``top`` out of range.
        NotFound: no organisation named ``org_name``.
        StoreError: the database failed.
    """
    span = _choose_period(period)
    chosen = _choose_bucket(span, bucket)
    grouping = _choose_group_by(group_by)
    if not 1 <= top <= 50:
        raise InvalidRequest("top must be between 1 and 50", param="top")
    window_start, window_end = _window(span, chosen, now, start, end)
    buckets = bucket_starts(window_start, window_end, chosen)
    org_id = require_org(tenancy, org_name).id if org_name is not None else None
    points = reader.usage_series(window_start, window_end, chosen, grouping, org_id)
    labels = {org.id: org.name for org in tenancy.list_orgs()} if grouping == "org" else {}
    by_group: dict[str | None, list[SeriesPoint]] = defaultdict(list)
    for point in points:
        by_group[point.group].append(point)
    ranked = sorted(by_group.items(), key=lambda item: (-sum(p.requests for p in item[1]), item[0] or ""))
    series = [
        _series(key, labels.get(key or "", key or NONE_LABEL), False, group, buckets)
        for key, group in ranked[:top]
    ]
    rest = [point for _, group in ranked[top:] for point in group]
    if rest:
        series.append(_series(None, OTHER, True, rest, buckets))
    return Overview(
        start=window_start,
        end=window_end,
        bucket=chosen,
        group_by=grouping,
        org_id=org_id,
        buckets=buckets,
        total=ChartPoint.of(sum_points(points, window_start, None)),
        series=tuple(series),
    )


def _series(
    key: str | None, label: str, other: bool, points: Sequence[SeriesPoint], buckets: Sequence[datetime]
) -> ChartSeries:
    at: dict[datetime, list[SeriesPoint]] = defaultdict(list)
    for point in points:
        at[point.start].append(point)
    return ChartSeries(
        key=key,
        label=label,
        other=other,
        total=ChartPoint.of(sum_points(points, buckets[0], key)),
        points=tuple(ChartPoint.of(sum_points(at.get(when, []), when, key)) for when in buckets),
    )


def _choose_period(period: str) -> Period:
    for known in PERIODS:
        if period == known:
            return known
    raise InvalidRequest(f"unknown period {period!r}: use {', '.join(PERIODS)}", param="period")


def _choose_bucket(period: Period, bucket: str | None) -> Bucket:
    if bucket is None:
        return DEFAULT_BUCKET[period]
    for known in BUCKETS:
        if bucket == known:
            return known
    raise InvalidRequest(f"unknown bucket {bucket!r}: use {', '.join(BUCKETS)}", param="bucket")


def _choose_group_by(group_by: str | None) -> GroupBy | None:
    if group_by in (None, "", "none"):
        return None
    for known in GROUP_BYS:
        if group_by == known:
            return known
    raise InvalidRequest(f"unknown grouping {group_by!r}: use {', '.join(GROUP_BYS)}", param="group_by")


def floor_to(moment: datetime, bucket: Bucket) -> datetime:
    """The start of the UTC ``bucket`` holding ``moment``."""
    moment = moment.astimezone(UTC)
    if bucket == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    if bucket == "day":
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_bucket(moment: datetime, bucket: Bucket) -> datetime:
    """The start of the bucket after the one starting at ``moment``."""
    if bucket == "hour":
        return moment + timedelta(hours=1)
    if bucket == "day":
        return moment + timedelta(days=1)
    return moment.replace(year=moment.year + (moment.month == 12), month=moment.month % 12 + 1)


def bucket_starts(start: datetime, end: datetime, bucket: Bucket) -> tuple[datetime, ...]:
    """Every bucket of ``[start, end)`` (``start`` already a bucket's start), at most ``MAX_POINTS``.

    Raises:
        InvalidRequest: more buckets than ``MAX_POINTS[bucket]``.
    """
    starts: list[datetime] = []
    when = start
    while when < end:
        if len(starts) == MAX_POINTS[bucket]:
            raise InvalidRequest(
                f"too many {bucket}s to chart (at most {MAX_POINTS[bucket]}): use a longer bucket",
                param="bucket",
            )
        starts.append(when)
        when = next_bucket(when, bucket)
    return tuple(starts)


def _window(
    period: Period, bucket: Bucket, now: datetime, start: datetime | None, end: datetime | None
) -> tuple[datetime, datetime]:
    if start is not None and end is not None:
        window_end = floor_to(end, "hour")
        window_start = floor_to(start, bucket)
    else:
        # To the end of the current hour, so what happened a minute ago is on the chart.
        window_end = floor_to(now, "hour") + timedelta(hours=1)
        window_start = floor_to(window_end - PERIODS[period], bucket)
    if window_start >= window_end:
        raise InvalidRequest("the window is empty: start must be before end", param="start")
    return window_start, window_end


# --- JSON ---------------------------------------------------------------------------------------


def point_to_json(point: ChartPoint) -> dict[str, object]:
    """One point: ``start`` (ISO 8601, UTC), counts, ``p50_ms``/``p99_ms`` (null when no requests),
    ``cost_krw`` (won, a JSON number)."""
    return {
        "start": point.start.isoformat(),
        "requests": point.requests,
        "input_tokens": point.input_tokens,
        "cached_tokens": point.cached_tokens,
        "output_tokens": point.output_tokens,
        "errors": point.errors,
        "p50_ms": _ms(point.p50_ms),
        "p99_ms": _ms(point.p99_ms),
        "cost_krw": krw_number(point.cost_krw),
    }


def overview_to_json(view: Overview) -> dict[str, object]:
    """The public shape of an overview (the dashboard's fetches); fields are only ever added."""
    return {
        "start": view.start.isoformat(),
        "end": view.end.isoformat(),
        "bucket": view.bucket,
        "group_by": view.group_by,
        "org_id": view.org_id,
        "buckets": [when.isoformat() for when in view.buckets],
        "total": point_to_json(view.total),
        "series": [
            {
                "key": s.key,
                "label": s.label,
                "other": s.other,
                "total": point_to_json(s.total),
                "points": [point_to_json(p) for p in s.points],
            }
            for s in view.series
        ],
    }


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
