"""Migration 0004 (policies, jurisdiction and personal-data counts on the ledger) only expands: the
previous release keeps inserting ledger rows beside it, and it can be undone and done again."""

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


def test_the_previous_release_keeps_writing_the_ledger(blank_database_url: str) -> None:
    migrate.upgrade(blank_database_url, "0003")
    engine = make_engine(blank_database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(_OLD_ROW), {"id": "before", "at": datetime(2026, 12, 1, tzinfo=UTC)})
        migrate.upgrade(blank_database_url)
        with engine.begin() as conn:
            conn.execute(text(_OLD_ROW), {"id": "during", "at": datetime(2026, 12, 2, tzinfo=UTC)})
            rows = conn.execute(
                text("SELECT request_id, jurisdiction, pii_counts FROM usage_records ORDER BY request_id")
            ).all()
            policies = conn.execute(text("SELECT count(*) FROM policies")).scalar_one()
    finally:
        engine.dispose()
    assert [tuple(row) for row in rows] == [("before", None, None), ("during", None, None)]
    assert policies == 0
    assert migrate.check_models_match(blank_database_url) == []


def test_downgrade_to_0003_and_back(blank_database_url: str) -> None:
    migrate.upgrade(blank_database_url)
    with migrate._connect(blank_database_url, "downgrading", transaction=True) as connection:
        command.downgrade(migrate._config(connection), "0003")
    assert migrate.current_revision(blank_database_url) == "0003"
    migrate.upgrade(blank_database_url)
    assert migrate.is_at_head(blank_database_url)
    assert migrate.check_models_match(blank_database_url) == []
