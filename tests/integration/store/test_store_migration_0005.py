"""Migration 0005 (invoices) only expands: the previous release keeps writing the ledger beside it,
the tables match the schema, issued invoices are refused changes by the database itself, and it can
be undone and done again."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from onshore.store.sql import migrate
from onshore.store.sql.engine import make_engine

_OLD_ROW = (
    "INSERT INTO usage_records (request_id, created_at, endpoint, status, streamed, prompt_tokens,"
    " completion_tokens, total_tokens, latency_ms) VALUES (:id, :at, 'chat', 200, false, 3, 4, 7, 1.0)"
)
_INVOICE = (
    "INSERT INTO invoices (id, seq, org_id, org_name, month, revision, issued_at, issued_by, currency,"
    " ledger_micro_krw, subtotal_krw, vat_rate, vat_krw, total_krw, issuer) VALUES"
    " ('INV-2026-11-000001', 1, 'org_1', 'acme', '2026-11', 0, :at, 'admin', 'KRW', 1500000, 1, '0.1',"
    " 0, 1, '{}')"
)


def test_the_previous_release_keeps_writing_the_ledger(blank_database_url: str) -> None:
    migrate.upgrade(blank_database_url, "0004")
    engine = make_engine(blank_database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(_OLD_ROW), {"id": "before", "at": datetime(2026, 12, 1, tzinfo=UTC)})
        migrate.upgrade(blank_database_url, "0005")
        with engine.begin() as conn:
            conn.execute(text(_OLD_ROW), {"id": "during", "at": datetime(2026, 12, 2, tzinfo=UTC)})
            rows = conn.execute(text("SELECT count(*) FROM usage_records")).scalar_one()
            invoices = conn.execute(text("SELECT count(*) FROM invoices")).scalar_one()
            counter = conn.execute(
                text("SELECT value FROM change_counters WHERE name = 'invoices'")
            ).scalar_one()
    finally:
        engine.dispose()
    assert (rows, invoices, counter) == (2, 0, 0)


def test_the_database_refuses_to_change_an_issued_invoice(blank_database_url: str) -> None:
    migrate.upgrade(blank_database_url, "0005")
    engine = make_engine(blank_database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(_INVOICE), {"at": datetime(2026, 12, 1, tzinfo=UTC)})
        for statement in (
            "UPDATE invoices SET total_krw = 0",
            "DELETE FROM invoices",
        ):
            with pytest.raises(DBAPIError, match="immutable"), engine.begin() as conn:
                conn.execute(text(statement))
        with engine.connect() as conn:
            total = conn.execute(text("SELECT total_krw FROM invoices")).scalar_one()
    finally:
        engine.dispose()
    assert total == 1


def test_downgrade_to_0004_and_back(blank_database_url: str) -> None:
    migrate.upgrade(blank_database_url, "0005")
    with migrate._connect(blank_database_url, "downgrading", transaction=True) as connection:
        command.downgrade(migrate._config(connection), "0004")
    assert migrate.current_revision(blank_database_url) == "0004"
    migrate.upgrade(blank_database_url, "0005")
    assert migrate.current_revision(blank_database_url) == "0005"
