"""An organisation's usage per model and UTC day, in SQL: what an invoice is made of.

One GROUP BY over the organisation's period, read through ``ix_usage_records_org_id_created_at``
(a month of 100,000 rows is a few dozen groups). One statement reads one snapshot, so the days'
costs add up to the ledger's for the period even while the ledger sink is writing.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, case, func, or_, select

from onshore.domain.invoice import UsageDay
from onshore.store.sql.errors import translate_errors
from onshore.store.sql.schema import usage_records

# A billable row without a model cannot come from the gateway; should one appear, it is still
# billed under this name (the usage summary's name for it too).
NO_MODEL = "(none)"


def _utc_day(dialect: str) -> ColumnElement[Any]:
    t = usage_records.c
    if dialect == "postgresql":
        # timestamptz to the UTC wall clock first: date() alone would use the session's time zone.
        return func.date(func.timezone("UTC", t.created_at))
    # SQLite stores UTC as text "YYYY-MM-DD HH:MM:SS..." (see schema.UtcDateTime).
    return func.substr(t.created_at, 1, 10)


def usage_days(engine: Engine, org_id: str, start: datetime, end: datetime) -> list[UsageDay]:
    """``UsageReader.usage_days``: billable rows, and any row with a cost, per model and UTC day."""
    t = usage_records.c
    day = _utc_day(engine.dialect.name).label("day")
    model = func.coalesce(t.model, NO_MODEL).label("model")
    # The cached part of a prompt, bounded as ``Price.cost_micro_krw`` bounds it.
    cached = case(
        (t.cached_tokens > t.prompt_tokens, t.prompt_tokens), (t.cached_tokens < 0, 0), else_=t.cached_tokens
    )
    billable = or_(
        and_(t.status >= 200, t.status < 300),
        t.total_tokens > 0,
        t.prompt_tokens > 0,
        t.completion_tokens > 0,
        t.cost_micro_krw != 0,
    )

    def total(column: Any) -> Any:
        return func.coalesce(func.sum(column), 0)

    query = (
        select(
            model,
            day,
            func.count(),
            total(t.prompt_tokens - cached),
            total(cached),
            total(t.completion_tokens),
            total(t.cost_micro_krw),
        )
        .where(t.org_id == org_id, t.created_at >= start, t.created_at < end, billable)
        .group_by(model, day)
        .order_by(model, day)
    )
    with translate_errors("reading usage per day"), engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        UsageDay(
            model=str(name),
            day=when if isinstance(when, date) else date.fromisoformat(str(when)),
            requests=int(count),
            input_tokens=int(prompt),
            cached_tokens=int(cache),
            output_tokens=int(output),
            cost_micro_krw=int(cost),
        )
        for name, when, count, prompt, cache, output, cost in rows
    ]
