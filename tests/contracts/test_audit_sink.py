"""The ``AuditSink``/``AuditReader`` contract, run against the in-memory log and the SQL one
(buffered and spooled like the ledger) on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from onshore.bootstrap import build_services
from onshore.config.settings import Settings
from onshore.domain.audit import AuditEntry
from onshore.gateway.memory import MemoryAuditLog
from onshore.ports import AuditReader, AuditSink
from tests.support.services import postgres_database


@dataclass
class Log:
    sink: AuditSink
    reader: AuditReader
    settle: Callable[[], None]  # wait until appended entries are readable


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Log]:
    if request.param == "memory":
        memory = MemoryAuditLog()
        yield Log(memory, memory, lambda: None)
        return

    def make(url: str) -> Iterator[Log]:
        # The very wiring the server uses: the buffered, spooled sink in front of the SQL table.
        settings = Settings(data_dir=tmp_path / "data", database={"url": url}, backends=[])
        services = build_services(settings, environ={})
        asyncio.run(services.lifecycle.start())
        reader = services.store.audit_reader
        try:
            yield Log(services.store.audit, reader, lambda: _wait_written(reader))
        finally:
            asyncio.run(services.lifecycle.stop())

    if request.param == "sqlite":
        yield from make(f"sqlite:///{tmp_path / 'audit.db'}")
    else:
        with postgres_database() as url:
            yield from make(url)


_expected: list[int] = [0]


def _wait_written(reader: AuditReader, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(reader.entries(limit=1000)) < _expected[0]:
        time.sleep(0.05)


def _entry(n: int, org: str = "org_a") -> AuditEntry:
    return AuditEntry.create(
        actor="admin-api",
        action="key.revoke",
        target_type="api_key",
        target_id=f"key_{n}",
        org_id=org,
        detail={"n": n},
        at=datetime(2026, 12, 1, tzinfo=UTC) + timedelta(seconds=n),
    )


def test_entries_come_back_newest_first(log: Log) -> None:
    entries = [_entry(n) for n in range(5)]
    for entry in entries:
        log.sink.append(entry)
    _expected[0] = 5
    log.settle()
    assert [e.id for e in log.reader.entries(limit=10)] == [e.id for e in reversed(entries)]


def test_appending_the_same_entry_twice_keeps_one(log: Log) -> None:
    entry = _entry(1)
    log.sink.append(entry)
    log.sink.append(entry)
    log.sink.append(_entry(2))
    _expected[0] = 2
    log.settle()
    found = log.reader.entries(limit=10)
    assert sorted(e.id for e in found) == sorted({entry.id, found[0].id, found[1].id}) and len(found) == 2


def test_entries_filter_by_organisation_and_keep_their_detail(log: Log) -> None:
    log.sink.append(_entry(1, "org_a"))
    log.sink.append(_entry(2, "org_b"))
    _expected[0] = 2
    log.settle()
    (only_b,) = log.reader.entries(org_id="org_b")
    assert only_b.org_id == "org_b" and dict(only_b.detail) == {"n": 2} and only_b.action == "key.revoke"
