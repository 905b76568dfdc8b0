"""Migration 0009 (operators, a key's secret generation) only expands: the previous release keeps
creating and revoking keys beside it (without a generation), this release reads them, the tables
match the schema, and it can be undone and done again."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import text

from onshore.store.sql import migrate
from onshore.store.sql.engine import make_engine
from onshore.store.sql.tenancy import SqlTenancyStore

T0 = datetime(2026, 12, 1, tzinfo=UTC)
# What a release before 0009 writes: every column it knows, none it does not.
_OLD_KEY = (
    "INSERT INTO api_keys (id, org_id, name, digest, prefix, created_at, updated_at, change_seq)"
    " VALUES (:id, 'org_1', 'k', :digest, 'sk-onshore-abc', :at, :at, 1)"
)


def test_the_previous_release_keeps_writing_keys(blank_database_url: str) -> None:
    migrate.upgrade(blank_database_url, "0008")
    engine = make_engine(blank_database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO organisations (id, name, created_at) VALUES ('org_1', 'acme', :at)"),
                {"at": T0},
            )
            conn.execute(text(_OLD_KEY), {"id": "key_before", "digest": "d1", "at": T0})
        migrate.upgrade(blank_database_url, "0009")
        with engine.begin() as conn:
            conn.execute(text(_OLD_KEY), {"id": "key_during", "digest": "d2", "at": T0})
            conn.execute(text("UPDATE api_keys SET revoked_at = :at WHERE id = 'key_during'"), {"at": T0})
            old_columns = conn.execute(text("SELECT id, digest, revoked_at FROM api_keys ORDER BY id")).all()
        keys = {k.id: k for k in SqlTenancyStore(engine).list_keys()}
    finally:
        engine.dispose()
    assert [row.id for row in old_columns] == ["key_before", "key_during"]
    assert keys["key_before"].secret_id is None and keys["key_during"].revoked_at is not None


def test_the_tables_match_the_schema(blank_database_url: str) -> None:
    migrate.upgrade(blank_database_url)
    assert migrate.check_models_match(blank_database_url) == []


def test_downgrade_to_0008_and_back(blank_database_url: str) -> None:
    migrate.upgrade(blank_database_url, "0009")
    with migrate._connect(blank_database_url, "downgrading", transaction=True) as connection:
        command.downgrade(migrate._config(connection), "0008")
    assert migrate.current_revision(blank_database_url) == "0008"
    migrate.upgrade(blank_database_url, "0009")
    assert migrate.current_revision(blank_database_url) == "0009"
