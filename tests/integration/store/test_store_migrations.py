"""Migrations reach head on SQLite and PostgreSQL and create exactly what schema.py declares."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import text

from onshore.store.sql import migrate
from onshore.store.sql.engine import make_engine


def test_upgrade_from_nothing_reaches_head(blank_database_url: str) -> None:
    assert migrate.current_revision(blank_database_url) is None
    assert not migrate.is_at_head(blank_database_url)

    migrate.upgrade(blank_database_url)

    assert migrate.current_revision(blank_database_url) == migrate.head_revision()
    assert migrate.is_at_head(blank_database_url)


def test_upgrade_twice_is_a_no_op(database_url: str) -> None:
    migrate.upgrade(database_url)
    assert migrate.is_at_head(database_url)


def test_models_match_migrations(database_url: str) -> None:
    # What `alembic check` does in CI: schema.py and versions/ must describe the same tables.
    assert migrate.check_models_match(database_url) == []


def test_drift_is_reported(blank_database_url: str) -> None:
    migrate.upgrade(blank_database_url)
    engine = make_engine(blank_database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP INDEX ix_api_keys_updated_at"))
    finally:
        engine.dispose()

    diffs = migrate.check_models_match(blank_database_url)

    assert any(diff[0] == "add_index" and diff[1].name == "ix_api_keys_updated_at" for diff in diffs)


def test_migrations_are_a_package_resource() -> None:
    assert migrate.SCRIPT_LOCATION == "onshore.store.sql:migrations"
    assert migrate.head_revision() == "0009"


def test_replicas_upgrading_at_once_all_succeed(blank_database_url: str) -> None:
    # `serve --workers N` (or N replicas) each upgrade on start; they must queue, not collide.
    script = "import sys; from onshore.store.sql import migrate; migrate.upgrade(sys.argv[1])"
    processes = [
        subprocess.Popen([sys.executable, "-c", script, blank_database_url], stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    failures = [p.stderr.read().decode() for p in processes if p.wait(timeout=60) != 0 and p.stderr]

    assert failures == []
    assert migrate.is_at_head(blank_database_url)
    assert migrate.check_models_match(blank_database_url) == []
