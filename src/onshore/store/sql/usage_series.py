"""Usage over time (``UsageSeriesReader``) read from the rollups, never from the ledger's rows.

A month of a busy platform is a million ledger rows but at most 31 days times the (organisation,
model, backend) triples in use: day and month buckets read whole UTC days from ``usage_daily`` and
the hours at the window's edges from ``usage_hourly``; hour buckets read ``usage_hourly``. Summing
the ~50 columns of a rollup row is what a query costs, so fewer rows is what makes it fast
(``benchmarks/dashboard_bench.py``). Days and months are UTC.
Latency percentiles come from the summed histogram columns (``onshore.domain.usage_series``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Engine,
    Select,
    Table,
    cast,
    func,
    literal_column,
    select,
    type_coerce,
)

from onshore.domain.usage_series import Bucket, GroupBy, PeakHour, SeriesPoint, sum_points
from onshore.store.sql.errors import translate_errors
from onshore.store.sql.rollup_triggers import LATENCY_COLUMNS, SUMS
from onshore.store.sql.schema import UtcDateTime, usage_daily, usage_hourly

_GROUP_COLUMNS: dict[GroupBy, str] = {"org": "org_id", "model": "model", "backend": "backend"}


def _bucket_start(dialect: str, table: Table, bucket: Bucket) -> ColumnElement[Any]:
    hour = table.c.hour if table is usage_hourly else table.c.day
    if bucket == "hour" or (bucket == "day" and table is usage_daily):
        return hour
    if dialect == "postgresql":
        # Cut the UTC wall clock, then read it back as UTC: the session's time zone plays no part.
        utc = func.timezone(literal_column("'UTC'"), hour)
        # Literals, not bind parameters: the same expression is repeated in GROUP BY, and PostgreSQL
        # would not know two parameters to be equal.
        unit: ColumnElement[str] = literal_column("'day'" if bucket == "day" else "'month'")
        return type_coerce(func.timezone(literal_column("'UTC'"), func.date_trunc(unit, utc)), UtcDateTime)
    # SQLite keeps the hour as "YYYY-MM-DD HH:00:00.000000" (schema.UtcDateTime).
    if bucket == "day":
        return type_coerce(
            func.substr(hour, 1, 10).op("||")(literal_column("' 00:00:00.000000'")), UtcDateTime
        )
    return type_coerce(func.substr(hour, 1, 7).op("||")(literal_column("'-01 00:00:00.000000'")), UtcDateTime)


def _sum(table: Table, name: str) -> ColumnElement[Any]:
    # Cast: PostgreSQL sums a bigint as numeric, which the driver would turn into a Decimal.
    return cast(func.sum(table.c[name]), BigInteger)


def _where(table: Table, start: datetime, end: datetime, org_id: str | None) -> list[ColumnElement[bool]]:
    when = table.c.hour if table is usage_hourly else table.c.day
    conditions = [when >= start, when < end]
    if org_id is not None:
        conditions.append(table.c.org_id == org_id)
    return conditions


def _pieces(start: datetime, end: datetime, bucket: Bucket) -> list[tuple[Table, datetime, datetime]]:
    """Whole UTC days from the daily rollup, the hours at either edge from the hourly one."""
    if bucket == "hour":
        return [(usage_hourly, start, end)]
    first = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first = first if first == start else first + timedelta(days=1)
    last = end.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if first >= last:
        return [(usage_hourly, start, end)]
    pieces = [(usage_hourly, start, first), (usage_daily, first, last), (usage_hourly, last, end)]
    return [(table, a, b) for table, a, b in pieces if a < b]


class SqlUsageSeries:
    """``UsageSeriesReader`` on SQLAlchemy (``SqlUsageStore`` delegates to it).

    Args:
        engine: From :func:`onshore.store.sql.engine.make_engine`, migrated to 0006 or later.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def usage_series(
        self,
        start: datetime,
        end: datetime,
        bucket: Bucket,
        group_by: GroupBy | None = None,
        org_id: str | None = None,
    ) -> list[SeriesPoint]:
        """See ``UsageSeriesReader.usage_series``: one GROUP BY over the rollup."""
        if bucket not in ("hour", "day", "month"):
            raise ValueError(f"unknown bucket {bucket!r}")  # a programming error: admin/ validates input
        pieces = _pieces(start, end, bucket)
        with translate_errors("reading usage over time"), self._engine.connect() as conn:
            rows = [
                row
                for table, a, b in pieces
                for row in conn.execute(self._query(table, a, b, bucket, group_by, org_id)).all()
            ]
        points = [_point(row) for row in rows]
        if len(pieces) > 1:  # a bucket cut across pieces (a day of edge hours and a day) is summed
            parts: dict[tuple[datetime, str | None], list[SeriesPoint]] = {}
            for point in points:
                parts.setdefault((point.start, point.group), []).append(point)
            points = [sum_points(same, when, group) for (when, group), same in parts.items()]
        return sorted(points, key=lambda p: (p.start, p.group or ""))

    def _query(
        self,
        table: Table,
        start: datetime,
        end: datetime,
        bucket: Bucket,
        group_by: GroupBy | None,
        org_id: str | None,
    ) -> Select[Any]:
        when = _bucket_start(self._engine.dialect.name, table, bucket).label("start")
        group: ColumnElement[Any] = (
            table.c[_GROUP_COLUMNS[group_by]] if group_by is not None else literal_column("''")
        ).label("grp")
        sums = [_sum(table, name) for name in (*SUMS, *LATENCY_COLUMNS)]
        query = select(when, group, *sums).where(*_where(table, start, end, org_id))
        return query.group_by(when, group) if group_by else query.group_by(when)

    def peak_hour(self, start: datetime, end: datetime, org_id: str | None = None) -> PeakHour | None:
        """See ``UsageSeriesReader.peak_hour``: one GROUP BY hour over the rollup, the largest first."""
        t = usage_hourly.c
        requests = _sum(usage_hourly, "requests").label("requests")
        sums = [
            _sum(usage_hourly, name) for name in ("billable_requests", "prompt_tokens", "completion_tokens")
        ]
        query = (
            select(t.hour, requests, *sums)
            .where(*_where(usage_hourly, start, end, org_id))
            .group_by(t.hour)
            .order_by(requests.desc(), t.hour)
            .limit(1)
        )
        with translate_errors("finding the busiest hour"), self._engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        hour, count, billable, prompt, completion = row
        return PeakHour(
            hour=hour,
            requests=int(count),
            billable_requests=int(billable),
            prompt_tokens=int(prompt),
            completion_tokens=int(completion),
        )


# Where each sum sits in a row of ``_query`` (after the bucket start and the group): read by
# position, since a chart reads thousands of rows (by name through a dict cost 2x as much).
_REQUESTS, _ERRORS, _BILLABLE, _PROMPT, _CACHED, _COMPLETION, _TOTAL, _COST = (
    2 + SUMS.index(name)
    for name in (
        "requests",
        "errors",
        "billable_requests",
        "prompt_tokens",
        "cached_tokens",
        "completion_tokens",
        "total_tokens",
        "cost_micro_krw",
    )
)
_LATENCY = 2 + len(SUMS)


def _point(row: Sequence[Any]) -> SeriesPoint:
    return SeriesPoint(
        start=row[0],
        group=row[1] or None,  # '' is the rollup's NULL, and the whole when not grouped
        requests=int(row[_REQUESTS]),
        errors=int(row[_ERRORS]),
        billable_requests=int(row[_BILLABLE]),
        prompt_tokens=int(row[_PROMPT]),
        cached_tokens=int(row[_CACHED]),
        completion_tokens=int(row[_COMPLETION]),
        total_tokens=int(row[_TOTAL]),
        cost_micro_krw=int(row[_COST]),
        latency_histogram=tuple(map(int, row[_LATENCY:])),
    )
