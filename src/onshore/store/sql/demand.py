"""The ledger's demand per UTC hour and model (``UsageReader.hourly_demand``), and per organisation
and Batch API flag too (``org_hourly_demand``): one GROUP BY each.

Billable rows only (the ledger's own rule), grouped by the UTC hour of ``created_at`` and the
model: a month is at most 744 hours times the models served, whatever the number of rows. The
hour is ``date_trunc`` of the instant seen in UTC on PostgreSQL (``date_trunc`` of a
``timestamptz`` alone would cut in the session's time zone) and ``strftime`` of the stored UTC
text on SQLite. Read through the ``created_at`` index (``org_id, created_at`` with an
organisation).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Float, case, cast, func, select
from sqlalchemy.exc import OperationalError

from onshore.domain.demand import HourlyDemand, OrgHourlyDemand, TokenStats
from onshore.store.sql.errors import translate_errors
from onshore.store.sql.ledger import NO_MODEL, _billable
from onshore.store.sql.schema import usage_records


def hourly_demand(
    engine: Engine, start: datetime, end: datetime, org_id: str | None = None
) -> list[HourlyDemand]:
    """Billable demand of ``start <= created_at < end`` (of ``org_id`` when given) per UTC hour
    and model, oldest hour first, then by model name."""
    return [demand for _, _, demand in _grouped(engine, start, end, org_id, by_org=False)]


def org_hourly_demand(
    engine: Engine, start: datetime, end: datetime, org_id: str | None = None
) -> list[OrgHourlyDemand]:
    """The same per UTC hour, model, organisation and Batch API flag (``batch_id`` set).

    Still one GROUP BY over the month's rows: a month is at most 744 hours times the (model,
    organisation, flag) groups that had traffic. The rollup (``usage_hourly``) has the organisation
    and model but neither the logarithm sums the length distributions need nor the batch flag, so
    this reads the ledger itself, as ``hourly_demand`` does.
    """
    rows = [
        OrgHourlyDemand(org, batch, demand)
        for org, batch, demand in _grouped(engine, start, end, org_id, by_org=True)
    ]
    # In Python, not ORDER BY: SQLite puts NULL first and PostgreSQL last.
    rows.sort(key=lambda r: (r.hour, r.model, r.org_id is not None, r.org_id or "", r.batch))
    return rows


def _grouped(
    engine: Engine, start: datetime, end: datetime, org_id: str | None, *, by_org: bool
) -> list[tuple[str | None, bool, HourlyDemand]]:
    t = usage_records.c
    sqlite = engine.dialect.name == "sqlite"
    if sqlite:
        hour: Any = func.strftime("%Y-%m-%d %H:00:00", t.created_at)
    else:
        hour = func.date_trunc("hour", func.timezone("UTC", t.created_at))
    hour = hour.label("hour")
    model = func.coalesce(t.model, NO_MODEL).label("model")
    keys: list[Any] = [hour, model]
    if by_org:
        keys += [t.org_id, case((t.batch_id.is_(None), 0), else_=1).label("batch")]
    query = (
        select(
            *keys,
            func.count(),
            func.coalesce(func.sum(case((t.streamed, 1), else_=0)), 0),
            *_token_sums(t.prompt_tokens),
            *_token_sums(t.completion_tokens),
        )
        .where(t.created_at >= start, t.created_at < end, _billable())
        .group_by(*keys)
        .order_by(hour, model)
    )
    if org_id is not None:
        query = query.where(t.org_id == org_id)
    with translate_errors("reading the hourly demand"), engine.connect() as conn:
        if sqlite:
            _ensure_ln(conn)
        rows = conn.execute(query).all()
    out = []
    for row in rows:
        org, batch = (row[2], bool(row[3])) if by_org else (None, False)
        count, streamed, p_sum, p_log, p_log2, p_max, c_sum, c_log, c_log2, c_max = row[len(keys) :]
        demand = HourlyDemand(
            hour=_utc_hour(row[0]),
            model=str(row[1]),
            requests=int(count),
            streamed=int(streamed),
            prompt=TokenStats(int(p_sum), float(p_log), float(p_log2), int(p_max)),
            completion=TokenStats(int(c_sum), float(c_log), float(c_log2), int(c_max)),
        )
        out.append((None if org is None else str(org), batch, demand))
    return out


def _token_sums(column: Any) -> tuple[Any, ...]:
    """Sum, sum of logs, sum of squared logs and maximum of one token count."""
    # ln of a double on both databases; a count of 0 counts as 1 (ln 0 is an error on PostgreSQL).
    log = func.ln(cast(case((column < 1, 1), else_=column), Float))
    return (
        func.coalesce(func.sum(column), 0),
        func.coalesce(func.sum(log), 0.0),
        func.coalesce(func.sum(log * log), 0.0),
        func.coalesce(func.max(column), 0),
    )


def _utc_hour(value: object) -> datetime:
    if isinstance(value, str):  # SQLite: "YYYY-MM-DD HH:00:00" in UTC
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):  # pragma: no cover - both databases give one of the two
        raise TypeError(f"expected an hour from the database, got {type(value).__name__}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ensure_ln(conn: Connection) -> None:
    """SQLite has ``ln`` only when built with its math functions (most builds since 3.35, not
    all): register Python's on this connection where it is missing."""
    try:
        conn.exec_driver_sql("SELECT ln(1.0)")
    except OperationalError:
        conn.rollback()
        raw: Any = conn.connection.driver_connection
        raw.create_function("ln", 1, _ln, deterministic=True)


def _ln(value: float | None) -> float | None:
    return None if value is None or value <= 0 else math.log(value)
