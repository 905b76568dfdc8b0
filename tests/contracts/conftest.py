"""The SQL engines the store contracts run on: SQLite in a fresh file and one migrated PostgreSQL
database per module, emptied before each test (the change counter back where migration 0003 seeds it).

A module that needs another set-up (tests/contracts/test_usage_series.py) defines its own ``engine``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from onshore.store.sql import migrate
from onshore.store.sql.engine import make_engine
from onshore.store.sql.schema import change_counters, metadata
from tests.support.services import postgres_database


@pytest.fixture(scope="module")
def _postgres() -> Iterator[str]:
    with postgres_database() as url:
        migrate.upgrade(url)
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
        migrate.upgrade(url)
    else:
        url = str(request.getfixturevalue("_postgres"))
    engine = make_engine(url)
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            if table is not change_counters:
                conn.execute(table.delete())
        conn.execute(change_counters.update().values(value=0))
    yield engine
    engine.dispose()
