"""The usage ledger in SQL: idempotent batch inserts, billing aggregates, and a health ping."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, Row, and_, case, func, or_, select, text

from onshore.domain.demand import HourlyDemand, OrgHourlyDemand
from onshore.domain.invoice import UsageDay
from onshore.domain.residency import ResidencyReport
from onshore.domain.usage import ModelUsage, MonthTotal, RejectedUsage, UsageRecord, UsageSummary
from onshore.domain.usage_series import Bucket, GroupBy, PeakHour, SeriesPoint
from onshore.errors import ConfigError
from onshore.store.setaside import Rejected
from onshore.store.sql.errors import translate_errors, translate_write_errors
from onshore.store.sql.ledger_insert import PgBatchInsert, RowValues, SqliteBatchInsert
from onshore.store.sql.rejects import SqlRejectStore
from onshore.store.sql.residency import residency_report
from onshore.store.sql.schema import usage_records
from onshore.store.sql.usage_days import usage_days
from onshore.store.sql.usage_series import SqlUsageSeries

_COLUMNS = tuple(column.name for column in usage_records.columns)
CLIENT_REQUEST_ID_MAX = 128  # the column's bound: a longer id is cut, never a reason to refuse a row
# A billable row without a model cannot come from the gateway; should one appear, it is still billed
# and still adds up, under this name.
NO_MODEL = "(none)"


class SqlUsageStore:
    """``UsageWriter``, ``UsageReader``, ``HealthCheck`` and ``RejectWriter`` on SQLAlchemy.

    Writes are idempotent on ``request_id`` (``INSERT … ON CONFLICT DO NOTHING`` on both
    PostgreSQL and SQLite), so a batch retried after a timeout, a crash between a write and the
    removal of a spool file, or two replicas replaying the same rows never duplicate a row.

    Args:
        engine: From :func:`onshore.store.sql.engine.make_engine`, already migrated.

    Raises:
        ConfigError: the engine is neither SQLite nor PostgreSQL.
    """

    def __init__(self, engine: Engine) -> None:
        dialect = engine.dialect
        self._rows = RowValues(usage_records, dialect, {"client_request_id": _bounded})
        # One statement per batch on PostgreSQL, so the rollup trigger runs once per batch.
        self._batch_insert: PgBatchInsert | SqliteBatchInsert
        if dialect.name == "postgresql":
            self._batch_insert = PgBatchInsert(usage_records, dialect)
        elif dialect.name == "sqlite":
            self._batch_insert = SqliteBatchInsert(usage_records, self._rows.names)
        else:  # make_engine only builds these two; a hand-made engine gets a clear message
            raise ConfigError(f"the SQL store supports SQLite and PostgreSQL, not {dialect.name!r}")
        self._rejects = SqlRejectStore(engine)
        self._series = SqlUsageSeries(engine)
        self._engine = engine

    def write_batch(self, records: Sequence[UsageRecord]) -> None:
        """Insert ``records`` in one transaction with one executemany; already-stored ids are skipped.

        Raises:
            RecordsRefused: the database refused the data of some row (which one is not said:
                ``BufferedUsageSink`` bisects to find it); nothing was written.
            StoreError: the database is unreachable or failed; nothing was written.
        """
        if not records:
            return
        with translate_write_errors("writing usage records"):
            # A request id repeated inside one batch is the same request; keep its first row so
            # the statement never conflicts with itself.
            unique: dict[str, UsageRecord] = {}
            for record in records:
                unique.setdefault(record.request_id, record)
            rows = self._rows(unique.values())
            with self._engine.begin() as conn:
                self._batch_insert.execute(conn, rows)

    def set_aside(self, rejects: Sequence[Rejected], /) -> None:
        """Store refused rows in ``ledger_rejects`` (see ``SqlRejectStore.set_aside``)."""
        self._rejects.set_aside(rejects)

    def summary(self, org_id: str, start: datetime, end: datetime) -> UsageSummary:
        """Totals for ``org_id`` over ``start <= created_at < end``; the parts add up.

        A row is billable when its status is 2xx or it carries tokens; ``by_model`` holds the
        billable rows only (so an unknown model a partner typed never looks like usage), and
        ``rejected`` the others, by status and error code. Most tokens first, then by name.
        """
        t = usage_records.c
        period = (t.org_id == org_id, t.created_at >= start, t.created_at < end)
        billable = _billable()
        failed = func.coalesce(func.sum(case((t.status >= 400, 1), else_=0)), 0)
        totals = select(func.count(), failed).where(*period)
        model = func.coalesce(t.model, NO_MODEL)
        total_tokens = func.coalesce(func.sum(t.total_tokens), 0).label("total")
        per_model = (
            select(
                model,
                func.count(),
                func.coalesce(func.sum(t.prompt_tokens), 0),
                func.coalesce(func.sum(t.completion_tokens), 0),
                total_tokens,
                func.coalesce(func.sum(t.cost_micro_krw), 0),
            )
            .where(*period, billable)
            .group_by(model)
            .order_by(total_tokens.desc(), model)
        )
        per_refusal = (
            select(t.status, t.error_code, func.count())
            .where(*period, ~billable)
            .group_by(t.status, t.error_code)
            .order_by(func.count().desc(), t.status, t.error_code)
        )
        with translate_errors("summarising usage"), self._engine.connect() as conn:
            requests, failures = conn.execute(totals).one()
            models = conn.execute(per_model).all()
            refusals = conn.execute(per_refusal).all()
        by_model = tuple(
            ModelUsage(
                model=str(name),
                requests=int(count),
                prompt_tokens=int(p),
                completion_tokens=int(c),
                total_tokens=int(tt),
                cost_micro_krw=int(cost),
            )
            for name, count, p, c, tt, cost in models
        )
        rejected = tuple(
            RejectedUsage(status=int(status), error_code=code, requests=int(count))
            for status, code, count in refusals
        )
        return UsageSummary(
            org_id=org_id,
            period_start=start,
            period_end=end,
            requests=int(requests),
            failed_requests=int(failures),
            prompt_tokens=sum(m.prompt_tokens for m in by_model),
            completion_tokens=sum(m.completion_tokens for m in by_model),
            total_tokens=sum(m.total_tokens for m in by_model),
            by_model=by_model,
            billable_requests=sum(m.requests for m in by_model),
            rejected_requests=sum(r.requests for r in rejected),
            rejected=rejected,
            cost_micro_krw=sum(m.cost_micro_krw for m in by_model),
        )

    def month_totals(self, start: datetime, end: datetime) -> list[MonthTotal]:
        """Billable tokens and cost of ``start <= created_at < end`` per organisation and key, in one
        GROUP BY over the period (read through the ``created_at`` index); rows without an
        organisation are left out. Ordered by organisation, then key (no key first).
        """
        t = usage_records.c
        query = (
            select(
                t.org_id,
                t.key_id,
                func.coalesce(func.sum(t.total_tokens), 0),
                func.coalesce(func.sum(t.cost_micro_krw), 0),
            )
            .where(t.created_at >= start, t.created_at < end, t.org_id.is_not(None), _billable())
            .group_by(t.org_id, t.key_id)
            .order_by(t.org_id, t.key_id.is_not(None), t.key_id)
        )
        with translate_errors("totalling usage per key"), self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            MonthTotal(org_id=str(org), key_id=key, total_tokens=int(tokens), cost_micro_krw=int(cost))
            for org, key, tokens, cost in rows
        ]

    def records(
        self, start: datetime, end: datetime, org_id: str | None = None, limit: int | None = None
    ) -> list[UsageRecord]:
        """Rows with ``start <= created_at < end``, oldest first (ties by request id)."""
        t = usage_records.c
        query = (
            select(usage_records)
            .where(t.created_at >= start, t.created_at < end)
            .order_by(t.created_at, t.request_id)
        )
        if org_id is not None:
            query = query.where(t.org_id == org_id)
        if limit is not None:
            query = query.limit(limit)
        with translate_errors("reading usage records"), self._engine.connect() as conn:
            return [_record(row) for row in conn.execute(query)]

    def residency(self, org_id: str, start: datetime, end: datetime) -> ResidencyReport:
        """Where the organisation's requests were served, and its refusals (``store/sql/residency``)."""
        return residency_report(self._engine, org_id, start, end)

    def hourly_demand(self, start: datetime, end: datetime, org_id: str | None = None) -> list[HourlyDemand]:
        """Billable demand per UTC hour and model (``store/sql/demand``)."""
        from onshore.store.sql.demand import hourly_demand  # noqa: PLC0415 - it imports this module

        return hourly_demand(self._engine, start, end, org_id)

    def org_hourly_demand(
        self, start: datetime, end: datetime, org_id: str | None = None
    ) -> list[OrgHourlyDemand]:
        """Billable demand per UTC hour, model, organisation and Batch API flag (``store/sql/demand``)."""
        from onshore.store.sql.demand import org_hourly_demand  # noqa: PLC0415 - it imports this module

        return org_hourly_demand(self._engine, start, end, org_id)

    def usage_days(self, org_id: str, start: datetime, end: datetime) -> list[UsageDay]:
        """Billable usage per model and UTC day, for invoices (``store/sql/usage_days``)."""
        return usage_days(self._engine, org_id, start, end)

    def usage_series(
        self,
        start: datetime,
        end: datetime,
        bucket: Bucket,
        group_by: GroupBy | None = None,
        org_id: str | None = None,
    ) -> list[SeriesPoint]:
        """Usage per bucket of time and group, from the hourly rollup (``store/sql/usage_series``)."""
        return self._series.usage_series(start, end, bucket, group_by, org_id)

    def peak_hour(self, start: datetime, end: datetime, org_id: str | None = None) -> PeakHour | None:
        """The busiest UTC hour, from the hourly rollup (``store/sql/usage_series``)."""
        return self._series.peak_hour(start, end, org_id)

    def ping(self) -> None:
        """Raise ``StoreError`` unless the database answers ``SELECT 1``."""
        with translate_errors("pinging the database"), self._engine.connect() as conn:
            conn.execute(text("SELECT 1"))


def _billable() -> ColumnElement[bool]:
    """A row is billable when its status is 2xx or it carries tokens (see ``onshore.domain.usage``)."""
    t = usage_records.c
    return or_(
        and_(t.status >= 200, t.status < 300),
        t.total_tokens > 0,
        t.prompt_tokens > 0,
        t.completion_tokens > 0,
    )


def _bounded(client_id: str | None) -> str | None:
    if client_id is not None and len(client_id) > CLIENT_REQUEST_ID_MAX:
        return client_id[:CLIENT_REQUEST_ID_MAX]
    return client_id


def _record(row: Row[Any]) -> UsageRecord:
    return UsageRecord(**{name: getattr(row, name) for name in _COLUMNS})
