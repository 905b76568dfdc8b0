"""Migration 0007 (files and batches) only expands: the previous release keeps writing the ledger
beside it (without a batch id), the tables match the schema, and it can be undone and done again."""

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
    migrate.upgrade(blank_database_url, "0006")
    engine = make_engine(blank_database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(_OLD_ROW), {"id": "before", "at": datetime(2026, 12, 1, tzinfo=UTC)})
        migrate.upgrade(blank_database_url, "0007")
        with engine.begin() as conn:
            conn.execute(text(_OLD_ROW), {"id": "during", "at": datetime(2026, 12, 2, tzinfo=UTC)})
            batch_ids = conn.execute(text("SELECT batch_id FROM usage_records")).scalars().all()
            tables = [
                conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one()
                for name in ("files", "batches", "batch_requests")
            ]
    finally:
        engine.dispose()
    assert (batch_ids, tables) == ([None, None], [0, 0, 0])


def test_the_tables_match_the_schema(blank_database_url: str) -> None:
    migrate.upgrade(blank_database_url)  # at head: later revisions add tables of their own
    assert migrate.check_models_match(blank_database_url) == []


def test_downgrade_to_0006_and_back(blank_database_url: str) -> None:
    migrate.upgrade(blank_database_url, "0007")
    with migrate._connect(blank_database_url, "downgrading", transaction=True) as connection:
        command.downgrade(migrate._config(connection), "0006")
    assert migrate.current_revision(blank_database_url) == "0006"
    migrate.upgrade(blank_database_url, "0007")
    assert migrate.current_revision(blank_database_url) == "0007"
