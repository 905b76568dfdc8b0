"""Real SQLite, PostgreSQL and Redis for the store's integration tests.

``database_url`` runs every test on a migrated, empty SQLite file and on a PostgreSQL database
created for this test session (and dropped at its end). A server that cannot be reached skips its
tests locally, but fails them when ``CI=true``: CI must never go green by skipping.

Servers default to the local ones; ``ONSHORE_TEST_POSTGRES_URL`` (a URL to an existing database
used only to create and drop the test database) and ``ONSHORE_TEST_REDIS_URL`` override them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest
import redis
from psycopg import sql
from sqlalchemy import Engine, text
from tests.support.pgproxy import TcpProxy

from onshore.store.sql import migrate
from onshore.store.sql.engine import make_engine
from onshore.store.sql.schema import metadata

ADMIN_POSTGRES_URL = os.environ.get("ONSHORE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("ONSHORE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

# A port nothing listens on: connecting is refused at once, which is how tests simulate an outage.
CLOSED_PORT_URL = "postgresql://postgres@127.0.0.1:1/onshore_unreachable"


def unavailable(what: str, exc: Exception) -> NoReturn:
    """Skip locally, fail in CI: a missing service must be visible where it matters."""
    message = f"{what} is not reachable ({type(exc).__name__}); start it or set its test URL"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true: {message}")
    pytest.skip(message)


def _pg_admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(ADMIN_POSTGRES_URL, autocommit=True, connect_timeout=3)


def create_pg_database() -> str:
    """A new empty database; returns a libpq URL to it (dropped by :func:`drop_pg_database`)."""
    name = f"onshore_test_{secrets.token_hex(6)}"
    with _pg_admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base = psycopg.conninfo.conninfo_to_dict(ADMIN_POSTGRES_URL)
    user = base.get("user", "postgres")
    password = base.get("password")
    auth = f"{user}:{password}" if password else str(user)
    host = base.get("host", "127.0.0.1")
    port = base.get("port", 5432)
    return f"postgresql://{auth}@{host}:{port}/{name}"


def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with _pg_admin() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def postgres_session_url() -> Iterator[str]:
    """One migrated PostgreSQL database for the whole session."""
    try:
        url = create_pg_database()
    except psycopg.Error as exc:
        unavailable("PostgreSQL", exc)
    try:
        migrate.upgrade(url)
        yield url
    finally:
        drop_pg_database(url)


def _truncate(url: str) -> None:
    engine = make_engine(url, pool_size=1)
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                # TRUNCATE, not DELETE: issued invoices refuse DELETE (a trigger, migration 0005).
                names = ", ".join(table.name for table in metadata.sorted_tables)
                conn.execute(text(f"TRUNCATE {names}"))
                return
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database with empty tables, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'data' / 'onshore.db'}"
        migrate.upgrade(url)
        return url
    url = str(request.getfixturevalue("postgres_session_url"))
    _truncate(url)
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def blank_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database that has never been migrated."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'blank' / 'onshore.db'}"
        return
    try:
        url = create_pg_database()
    except psycopg.Error as exc:
        unavailable("PostgreSQL", exc)
    try:
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_url(postgres_session_url: str) -> str:
    """The session's PostgreSQL database only, emptied (for PostgreSQL-specific tests)."""
    _truncate(postgres_session_url)
    return postgres_session_url


@pytest.fixture
def pg_outage(postgres_url: str) -> Iterator[tuple[TcpProxy, str]]:
    """The session's PostgreSQL behind a proxy: (proxy, URL through the proxy)."""
    proxy = TcpProxy(postgres_url)
    proxy.start()
    yield proxy, proxy.url
    proxy.stop()


@pytest.fixture(scope="session")
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable("Redis", exc)
    finally:
        client.close()
    return REDIS_URL
