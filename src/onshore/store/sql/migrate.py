"""Schema migrations, run programmatically: ``onshore db upgrade`` and the tests call these.

The Alembic scripts ship inside the package (``onshore.store.sql:migrations``), so an installed
wheel can upgrade its own database; no ``alembic.ini`` is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, event, text

from onshore.store.sql.engine import make_engine
from onshore.store.sql.errors import translate_errors
from onshore.store.sql.schema import metadata

SCRIPT_LOCATION = "onshore.store.sql:migrations"

# Replicas often start together and each may run "db upgrade"; on PostgreSQL they queue on this
# transaction-scoped advisory lock instead of racing to create the same tables.
_PG_MIGRATION_LOCK_ID = 0x6F6E73686F7265  # "onshore" in ASCII


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@contextmanager
def _connect(url: str, action: str, *, transaction: bool) -> Iterator[Connection]:
    # A private one-connection engine: migrations run before (or beside) the app's own engine and
    # must not hold pooled connections afterwards.
    engine = make_engine(url, pool_size=1)
    if engine.dialect.name == "sqlite" and transaction:
        _begin_immediate(engine)
    try:
        with translate_errors(action):
            if transaction:
                with engine.begin() as connection:
                    yield connection
            else:
                with engine.connect() as connection:
                    yield connection
    finally:
        engine.dispose()


def _begin_immediate(engine: Engine) -> None:
    """Run each transaction as ``BEGIN IMMEDIATE``, DDL included.

    sqlite3 otherwise runs CREATE TABLE outside any transaction, so two processes starting on a
    fresh file (``serve --workers N``) would both create the tables and one would fail. With the
    write lock taken up front the second waits (busy_timeout), then finds the schema at head.
    """

    @event.listens_for(engine, "connect")
    def _driver_autocommit(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's BEGIN below be the only one

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (the newest by default) in one transaction.

    Raises:
        StoreError: the database is unreachable or a migration failed (nothing is applied on
            PostgreSQL, whose DDL is transactional).
    """
    with _connect(url, "upgrading the database schema", transaction=True) as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_MIGRATION_LOCK_ID})
        command.upgrade(_config(connection), revision)


def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at; None for a database never migrated."""
    with _connect(url, "reading the schema revision", transaction=False) as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """The newest revision shipped with this version of Onshore."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships at least one revision
        raise RuntimeError("no migrations found in " + SCRIPT_LOCATION)
    return head


def is_at_head(url: str) -> bool:
    """True when the database at ``url`` needs no upgrade."""
    return current_revision(url) == head_revision()


def check_models_match(url: str) -> list[Any]:
    """Differences between ``schema.py`` and the migrated database (what ``alembic check`` reports).

    An empty list means the migrations create exactly the tables the code expects.
    """
    with _connect(url, "comparing the database schema", transaction=False) as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))
