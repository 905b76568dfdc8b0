"""Build a SQLAlchemy engine from a database URL: driver choice, SQLite pragmas, pool sizes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

from onshore.errors import ConfigError

# SQLite answers "database is locked" at once unless told to wait; the ledger thread and the CLI
# write to the same file as the server, so writers queue for up to this long instead of failing.
SQLITE_BUSY_TIMEOUT_MS = 5_000

# A PostgreSQL host that drops packets would otherwise hang a connect for minutes; the ledger's
# retry loop and /readyz both need an answer quickly.
POSTGRES_CONNECT_TIMEOUT_S = 5

_SUPPORTED = "sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DB"
_SECRET_QUERY_KEYS = re.compile(r"(?i)(password|passwd|secret|token)=([^&]*)")
# Greedy up to the last "@", so an unescaped "@" inside a password is hidden too.
_USERINFO = re.compile(r"//(?P<user>[^:/@]*):(?P<pw>.*)@")


def normalise_url(url: str) -> URL:
    """Parse ``url`` and pin the one driver Onshore uses per database.

    ``postgres://``, ``postgresql://`` and other PostgreSQL drivers (``+asyncpg``, ``+psycopg2``)
    become ``postgresql+psycopg://``: psycopg 3 is the only PostgreSQL driver installed on purpose,
    and operators often paste URLs written for other tools. ``sqlite+aiosqlite://`` becomes the
    standard library driver, because the store is synchronous.

    Raises:
        ConfigError: the URL cannot be parsed or names a database other than SQLite or PostgreSQL.
    """
    raw = url.strip()
    if raw.startswith("postgres://"):
        # SQLAlchemy dropped the "postgres" alias, but Heroku-style URLs still use it.
        raw = "postgresql://" + raw[len("postgres://") :]
    try:
        parsed = make_url(raw)
    except ArgumentError as exc:
        raise ConfigError(f"database.url is not a valid URL; expected {_SUPPORTED}") from exc
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return parsed.set(drivername="sqlite")
    raise ConfigError(f"database.url names an unsupported database {backend!r}; expected {_SUPPORTED}")


def _sqlite_in_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or str(url.database).startswith("file::memory:")


# A database host that vanishes without closing its sockets (a partition, a crash) would leave a
# ledger write waiting for an answer for ever: TCP keepalives and an unacknowledged-data timeout
# turn that silence into a connection error within about half a minute, which the ledger buffers.
POSTGRES_DEAD_PEER_DETECTION = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
}


def make_engine(url: str, *, pool_size: int = 5, echo: bool = False) -> Engine:
    """Create a synchronous engine for ``url`` (see :func:`normalise_url` for accepted forms).

    For a SQLite file the parent directory is created, and every connection is put in WAL mode
    (readers never block the ledger writer) with a busy timeout and foreign keys on. An in-memory
    SQLite database is shared by all threads through one connection, since each new connection
    would otherwise see its own empty database.

    Args:
        url: The database URL, e.g. ``Settings.database_url``.
        pool_size: Connections kept open (PostgreSQL and SQLite files).
        echo: Log every SQL statement (debugging only: statements carry no prompt text, but do
            carry organisation and key names).

    Raises:
        ConfigError: the URL is invalid or unsupported, or the SQLite directory cannot be created.
    """
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _make_sqlite_engine(parsed, pool_size=pool_size, echo=echo)
    return create_engine(
        parsed,
        pool_size=pool_size,
        # A database restart leaves dead sockets in the pool; checking on checkout turns them into
        # a reconnect instead of one failed ledger batch or admin request per pooled connection.
        pool_pre_ping=True,
        connect_args={"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S, **POSTGRES_DEAD_PEER_DETECTION},
        echo=echo,
    )


def _make_sqlite_engine(url: URL, *, pool_size: int, echo: bool) -> Engine:
    in_memory = _sqlite_in_memory(url)
    if in_memory:
        engine = create_engine(
            url,
            poolclass=StaticPool,
            connect_args={"check_same_thread": False},
            echo=echo,
        )
    else:
        uri = str(url.query.get("uri", "")).lower() in ("true", "1")
        if not uri:
            try:
                Path(str(url.database)).expanduser().parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError("database.url: cannot create the directory for the SQLite file") from exc
        engine = create_engine(
            url,
            pool_size=pool_size,
            # The ledger thread and request threads share the pool, so connections cross threads;
            # the pool hands each to one thread at a time, which is what sqlite3 really requires.
            connect_args={"check_same_thread": False},
            echo=echo,
        )

    @event.listens_for(engine, "connect")
    def _set_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    return engine


def redact_url(url: str) -> str:
    """``url`` with its password (and password-like query parameters) replaced by ``***``.

    Safe for logs and readiness messages; never raises, even on a URL that does not parse.
    """
    try:
        rendered = make_url(url.strip()).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        rendered = _USERINFO.sub(lambda m: f"//{m['user']}:***@", url.strip())
    return _SECRET_QUERY_KEYS.sub(lambda m: f"{m[1]}=***", rendered)
