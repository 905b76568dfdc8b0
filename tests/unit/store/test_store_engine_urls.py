"""URL handling for the SQL store: driver pinning, SQLite set-up, password redaction."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from onshore.errors import ConfigError
from onshore.store.sql.engine import make_engine, normalise_url, redact_url


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:p@db:5432/onshore",
        "postgres://u:p@db:5432/onshore",
        "postgresql+asyncpg://u:p@db:5432/onshore",
        "postgresql+psycopg2://u:p@db:5432/onshore",
        "postgresql+psycopg://u:p@db:5432/onshore",
    ],
)
def test_postgres_urls_use_psycopg3(url: str) -> None:
    parsed = normalise_url(url)
    assert parsed.drivername == "postgresql+psycopg"
    assert (parsed.host, parsed.port, parsed.database, parsed.username) == ("db", 5432, "onshore", "u")
    assert parsed.password == "p"


@pytest.mark.parametrize("url", ["sqlite:///x.db", "sqlite+aiosqlite:///x.db", "sqlite+pysqlite:///x.db"])
def test_sqlite_urls_use_the_standard_library_driver(url: str) -> None:
    assert normalise_url(url).drivername == "sqlite"


@pytest.mark.parametrize("url", ["mysql://u@h/db", "not a url", "", "oracle://h/db"])
def test_unsupported_or_invalid_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError) as raised:
        normalise_url(url)
    assert "database.url" in str(raised.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://onshore:s3cret@db:5432/onshore", "postgresql://onshore:***@db:5432/onshore"),
        ("postgres://onshore:s3cret@db/onshore", "postgres://onshore:***@db/onshore"),
        ("postgresql://onshore@db/onshore", "postgresql://onshore@db/onshore"),
        ("redis://:s3cret@cache:6379/0", "redis://:***@cache:6379/0"),
        ("sqlite:////var/lib/onshore/onshore.db", "sqlite:////var/lib/onshore/onshore.db"),
        (
            "postgresql://db/onshore?password=s3cret&sslmode=require",
            "postgresql://db/onshore?password=***&sslmode=require",
        ),
    ],
)
def test_redact_url_hides_passwords(url: str, expected: str) -> None:
    assert redact_url(url) == expected
    assert "s3cret" not in redact_url(url)


def test_redact_url_never_raises_on_garbage() -> None:
    assert "s3cret" not in redact_url("::://user:s3cret@@")
    assert redact_url("") == ""


def test_sqlite_file_engine_creates_directory_and_sets_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "onshore.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
            assert conn.execute(text("PRAGMA busy_timeout")).scalar_one() == 5000
        assert path.parent.is_dir()
    finally:
        engine.dispose()


def test_in_memory_sqlite_is_shared_between_connections() -> None:
    engine = make_engine("sqlite://")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
    finally:
        engine.dispose()


def test_postgres_engine_is_built_lazily_without_connecting() -> None:
    engine = make_engine("postgres://u:p@127.0.0.1:1/db", pool_size=3)
    try:
        assert engine.dialect.name == "postgresql"
        assert engine.dialect.driver == "psycopg"
        assert engine.pool.size() == 3  # type: ignore[attr-defined]
    finally:
        engine.dispose()
