"""Migration 0006 (the hourly usage rollup) only expands: the rows already in the ledger are counted in,
rows the previous release goes on inserting are counted by the trigger, and it can be undone and done
again. At the head the trigger must be there (a later SQLite batch migration of ``usage_records``
would drop it with the table it copies)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import Engine, text
from tests.support.usage_series import InMemoryUsageSeries

from onshore.domain.usage import UsageRecord
from onshore.domain.usage_series import LATENCY_BUCKETS
from onshore.store.sql import migrate
from onshore.store.sql.engine import make_engine
from onshore.store.sql.ledger import SqlUsageStore

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)
ALL = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC))
# What a replica of the release before 0003 inserts: no cached tokens, cost, jurisdiction.
_OLD_ROW = (
    "INSERT INTO usage_records (request_id, created_at, org_id, model, backend, endpoint, status, streamed,"
    " prompt_tokens, completion_tokens, total_tokens, latency_ms)"
    " VALUES (:id, :at, 'org_a', 'llama', 'pool-a', 'chat', :status, false, 3, 4, 7, :latency)"
    " ON CONFLICT (request_id) DO NOTHING"
)


def _old_rows(engine: Engine, prefix: str, count: int) -> list[UsageRecord]:
    rows = []
    with engine.begin() as conn:
        for i in range(count):
            at = T0 + timedelta(minutes=37 * i)
            status = 200 if i % 4 else 503
            latency = 1.5 * (i + 1) ** 2
            conn.execute(
                text(_OLD_ROW), {"id": f"{prefix}{i}", "at": at, "status": status, "latency": latency}
            )
            rows.append(
                UsageRecord(
                    request_id=f"{prefix}{i}",
                    created_at=at,
                    org_id="org_a",
                    key_id=None,
                    endpoint="chat",
                    model="llama",
                    backend="pool-a",
                    status=status,
                    streamed=False,
                    prompt_tokens=3,
                    completion_tokens=4,
                    total_tokens=7,
                    latency_ms=latency,
                )
            )
    return rows


def _assert_rollup_is_a_recount(engine: Engine, rows: list[UsageRecord]) -> None:
    store = SqlUsageStore(engine)
    oracle = InMemoryUsageSeries(rows)
    for bucket in ("hour", "day"):
        assert store.usage_series(*ALL, bucket, "org") == oracle.usage_series(*ALL, bucket, "org")  # type: ignore[arg-type]
    assert sum(p.requests for p in store.usage_series(*ALL, "month")) == len(rows)


def test_upgrade_counts_the_rows_already_there_and_the_old_release_keeps_writing(
    blank_database_url: str,
) -> None:
    migrate.upgrade(blank_database_url, "0005")
    engine = make_engine(blank_database_url)
    try:
        before = _old_rows(engine, "before-", 30)
        migrate.upgrade(blank_database_url)
        _assert_rollup_is_a_recount(engine, before)
        during = _old_rows(engine, "during-", 10)
        _old_rows(engine, "before-", 5)  # replayed by the old release: skipped, not counted
        _assert_rollup_is_a_recount(engine, before + during)
    finally:
        engine.dispose()
    assert migrate.check_models_match(blank_database_url) == []


def test_downgrade_to_0005_and_back_recounts(blank_database_url: str) -> None:
    migrate.upgrade(blank_database_url)
    engine = make_engine(blank_database_url)
    try:
        first = _old_rows(engine, "a-", 12)
        with migrate._connect(blank_database_url, "downgrading", transaction=True) as connection:
            command.downgrade(migrate._config(connection), "0005")
        assert migrate.current_revision(blank_database_url) == "0005"
        second = _old_rows(engine, "b-", 12)  # while downgraded: no rollup, no trigger, still inserted
        migrate.upgrade(blank_database_url)
        _assert_rollup_is_a_recount(engine, first + second)
    finally:
        engine.dispose()
    assert migrate.is_at_head(blank_database_url)
    assert migrate.check_models_match(blank_database_url) == []


def test_the_hour_is_utc_whatever_the_session_time_zone(postgres_url: str) -> None:
    """date_trunc of a timestamptz cuts in the session's zone; India's half hour would show it."""
    engine = make_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL TIME ZONE 'Asia/Kolkata'"))
            conn.execute(
                text(_OLD_ROW), {"id": "x", "at": T0 + timedelta(minutes=20), "status": 200, "latency": 5.0}
            )
        with engine.connect() as conn:
            hours = conn.execute(text("SELECT hour FROM usage_hourly")).scalars().all()
            columns = conn.execute(text("SELECT * FROM usage_hourly")).keys()
    finally:
        engine.dispose()
    assert [hour.astimezone(UTC) for hour in hours] == [T0]
    assert len([c for c in columns if c.startswith("latency_b")]) == LATENCY_BUCKETS
