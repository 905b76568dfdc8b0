"""The usage ledger in SQL: idempotent batch inserts, billing aggregates, and a health ping."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, case, func, select, text
from sqlalchemy.dialects import postgresql, sqlite

from onshore.domain.usage import ModelUsage, UsageRecord, UsageSummary
from onshore.errors import ConfigError
from onshore.store.sql.errors import translate_errors
from onshore.store.sql.schema import usage_records

_COLUMNS = tuple(column.name for column in usage_records.columns)


class SqlUsageStore:
    """``UsageWriter``, ``UsageReader`` and ``HealthCheck`` on SQLAlchemy.

    Writes are idempotent on ``request_id`` (``INSERT … ON CONFLICT DO NOTHING`` on both
    PostgreSQL and SQLite), so a batch retried after a timeout, a crash between a write and the
    removal of a spool file, or two replicas replaying the same rows never duplicate a row.

    Args:
        engine: From :func:`onshore.store.sql.engine.make_engine`, already migrated.
    """

    def __init__(self, engine: Engine) -> None:
        dialect = engine.dialect.name
        if dialect == "postgresql":
            self._insert: Any = postgresql.insert(usage_records).on_conflict_do_nothing(
                index_elements=[usage_records.c.request_id]
            )
        elif dialect == "sqlite":
            # ON CONFLICT DO NOTHING rather than INSERT OR IGNORE: OR IGNORE would also silently
            # drop rows that break NOT NULL, hiding bugs; only a duplicate key should be skipped.
            self._insert = sqlite.insert(usage_records).on_conflict_do_nothing(
                index_elements=[usage_records.c.request_id]
            )
        else:  # make_engine only builds these two; a hand-made engine gets a clear message
            raise ConfigError(f"the usage ledger supports SQLite and PostgreSQL, not {dialect!r}")
        self._engine = engine

    def write_batch(self, records: Sequence[UsageRecord]) -> None:
        """Insert ``records`` in one transaction with one executemany; already-stored ids are skipped.

        Raises:
            StoreError: the database is unreachable or refused the batch; nothing was written.
        """
        if not records:
            return
        # A request id repeated inside one batch is the same request; keep its first row so the
        # statement never conflicts with itself.
        unique: dict[str, dict[str, Any]] = {}
        for record in records:
            unique.setdefault(record.request_id, _values(record))
        with translate_errors("writing usage records"), self._engine.begin() as conn:
            conn.execute(self._insert, list(unique.values()))

    def summary(self, org_id: str, start: datetime, end: datetime) -> UsageSummary:
        """Totals for ``org_id`` over ``start <= created_at < end``.

        ``failed_requests`` counts statuses of 400 and above. ``by_model`` covers rows that name a
        model (a request rejected before its model was known has none), most tokens first.
        """
        t = usage_records.c
        period = (t.org_id == org_id, t.created_at >= start, t.created_at < end)
        failed = func.coalesce(func.sum(case((t.status >= 400, 1), else_=0)), 0)
        totals = select(
            func.count(),
            failed,
            func.coalesce(func.sum(t.prompt_tokens), 0),
            func.coalesce(func.sum(t.completion_tokens), 0),
            func.coalesce(func.sum(t.total_tokens), 0),
        ).where(*period)
        total_tokens = func.coalesce(func.sum(t.total_tokens), 0).label("total")
        per_model = (
            select(
                t.model,
                func.count(),
                func.coalesce(func.sum(t.prompt_tokens), 0),
                func.coalesce(func.sum(t.completion_tokens), 0),
                total_tokens,
            )
            .where(*period, t.model.is_not(None))
            .group_by(t.model)
            .order_by(total_tokens.desc(), t.model)
        )
        with translate_errors("summarising usage"), self._engine.connect() as conn:
            requests, failures, prompt, completion, total = conn.execute(totals).one()
            models = conn.execute(per_model).all()
        return UsageSummary(
            org_id=org_id,
            period_start=start,
            period_end=end,
            requests=int(requests),
            failed_requests=int(failures),
            prompt_tokens=int(prompt),
            completion_tokens=int(completion),
            total_tokens=int(total),
            by_model=tuple(
                ModelUsage(
                    model=str(model),
                    requests=int(count),
                    prompt_tokens=int(p),
                    completion_tokens=int(c),
                    total_tokens=int(tt),
                )
                for model, count, p, c, tt in models
            ),
        )

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

    def ping(self) -> None:
        """Raise ``StoreError`` unless the database answers ``SELECT 1``."""
        with translate_errors("pinging the database"), self._engine.connect() as conn:
            conn.execute(text("SELECT 1"))


def _values(record: UsageRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in _COLUMNS}


def _record(row: Row[Any]) -> UsageRecord:
    return UsageRecord(**{name: getattr(row, name) for name in _COLUMNS})
