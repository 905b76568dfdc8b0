"""Migration 0003 (limits, prices, cost) only expands: the previous release keeps working beside it."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import text

from onshore.store.sql import migrate
from onshore.store.sql.engine import make_engine

_OLD_ROW = (
    "INSERT INTO usage_records (request_id, created_at, endpoint, status, streamed, prompt_tokens,"
    " completion_tokens, total_tokens, latency_ms) VALUES (:id, :at, 'chat', 200, false, 3, 4, 7, 1.0)"
)


def test_rows_of_the_previous_release_survive_and_its_inserts_still_work(blank_database_url: str) -> None:
    migrate.upgrade(blank_database_url, "0002")
    engine = make_engine(blank_database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(_OLD_ROW), {"id": "before", "at": datetime(2026, 12, 1, tzinfo=UTC)})

        migrate.upgrade(blank_database_url)

        with engine.begin() as conn:
            # What a replica still on 0002 inserts: no cached_tokens, no cost.
            conn.execute(text(_OLD_ROW), {"id": "during", "at": datetime(2026, 12, 2, tzinfo=UTC)})
            rows = conn.execute(
                text(
                    "SELECT request_id, cached_tokens, cost_micro_krw FROM usage_records ORDER BY request_id"
                )
            ).all()
            counter = conn.execute(
                text("SELECT value FROM change_counters WHERE name = 'limits'")
            ).scalar_one()
    finally:
        engine.dispose()

    assert [tuple(row) for row in rows] == [("before", 0, None), ("during", 0, None)]
    assert counter == 0
    assert migrate.check_models_match(blank_database_url) == []


def test_downgrade_to_0002_and_back(blank_database_url: str) -> None:
    migrate.upgrade(blank_database_url)
    migrate.upgrade(blank_database_url, "0003")

    # The private helpers: `onshore db` has no downgrade on purpose, the test still wants one.
    with migrate._connect(blank_database_url, "downgrading", transaction=True) as connection:
        command.downgrade(migrate._config(connection), "0002")
    assert migrate.current_revision(blank_database_url) == "0002"

    migrate.upgrade(blank_database_url)
    assert migrate.is_at_head(blank_database_url)
    assert migrate.check_models_match(blank_database_url) == []
