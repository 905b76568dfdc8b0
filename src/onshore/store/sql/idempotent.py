"""``INSERT … ON CONFLICT (primary key) DO NOTHING`` for the two databases Onshore supports."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, Table
from sqlalchemy.dialects import postgresql, sqlite

from onshore.errors import ConfigError


def insert_ignoring_duplicates(engine: Engine, table: Table) -> Any:
    """An insert of ``table`` rows that skips rows whose primary key is already stored.

    ON CONFLICT DO NOTHING rather than SQLite's INSERT OR IGNORE: OR IGNORE would also silently
    drop rows that break NOT NULL, hiding bugs; only a duplicate key should be skipped.

    Raises:
        ConfigError: the engine is neither SQLite nor PostgreSQL.
    """
    keys = list(table.primary_key.columns)
    dialect = engine.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=keys)
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=keys)
    # make_engine only builds these two; a hand-made engine gets a clear message
    raise ConfigError(f"the SQL store supports SQLite and PostgreSQL, not {dialect!r}")
