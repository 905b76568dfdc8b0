"""Audit entries written off the request path survive a database outage like ledger rows: nothing
lost, nothing chained twice, and the chain still verifies after the spool is replayed."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from tests.support.pgproxy import TcpProxy

from onshore.admin.audit_chain import verify_trail
from onshore.domain.audit import AuditEntry
from onshore.store.buffered import BufferedAuditSink
from onshore.store.codecs import AUDIT_CODEC
from onshore.store.spool import Spool
from onshore.store.sql import SqlAuditLog, make_engine
from onshore.store.sql.schema import audit_log

T0 = datetime(2026, 12, 1, tzinfo=UTC)
CLOSED_PORT_URL = "postgresql://postgres@127.0.0.1:1/onshore_unreachable"


def entries(n: int, prefix: str) -> list[AuditEntry]:
    return [
        AuditEntry(
            id=f"aud_{prefix}{i:05d}",
            at=T0 + timedelta(milliseconds=i),
            actor="system",
            action="request.blocked",
            target_type="request",
            target_id=f"req_{prefix}{i}",
            org_id="org_a",
            detail={"pii_counts": {"KR_RRN": i % 3}, "mode": "block"},
        )
        for i in range(n)
    ]


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_log)).scalar_one())


def assert_intact(log: SqlAuditLog, expected: int) -> None:
    verdict = verify_trail(log, None)
    assert verdict.problem is None, verdict.problem
    assert verdict.entries == verdict.head_seq == expected


class SwitchableWriter:
    """Sends batches to an unreachable PostgreSQL until switched to the real database."""

    def __init__(self, real: SqlAuditLog, unreachable: SqlAuditLog) -> None:
        self.real = real
        self.unreachable = unreachable
        self.up = False

    def write_batch(self, batch: Sequence[AuditEntry]) -> None:
        (self.real if self.up else self.unreachable).write_batch(batch)


@pytest.fixture
def spool_path(tmp_path: Path) -> Path:
    return tmp_path / "spool" / "audit-spool.jsonl"


@pytest.fixture
def sinks() -> Iterator[list[BufferedAuditSink]]:
    made: list[BufferedAuditSink] = []
    yield made
    for sink in made:
        sink.close(timeout_s=2)


def make_sink(
    sinks: list[BufferedAuditSink], writer: object, spool_path: Path, **options: int
) -> BufferedAuditSink:
    sink = BufferedAuditSink(
        writer,  # type: ignore[arg-type]
        spool_path=spool_path,
        batch_size=options.get("batch_size", 40),
        flush_interval_s=0.01,
        retry_interval_s=0.02,
    )
    sinks.append(sink)
    return sink


def test_an_outage_spools_entries_and_the_replay_chains_each_once(
    engine: Engine, spool_path: Path, sinks: list[BufferedAuditSink]
) -> None:
    dead = make_engine(CLOSED_PORT_URL)
    log = SqlAuditLog(engine)
    target = SwitchableWriter(log, SqlAuditLog(dead))
    try:
        sink = make_sink(sinks, target, spool_path)
        sink.start()
        for e in entries(300, "down"):
            sink.append(e)
        wait_until(lambda: sink.failures > 0 and sink.spooled >= 250)

        target.up = True
        for e in entries(100, "up"):
            sink.append(e)
        wait_until(lambda: count(engine) == 400 and not spool_path.exists())
        sink.close()
    finally:
        dead.dispose()
    assert_intact(log, 400)


def test_a_replayed_spool_of_entries_already_written_chains_nothing_twice(
    engine: Engine, spool_path: Path, sinks: list[BufferedAuditSink]
) -> None:
    # The crash window: a batch committed, then the process died before removing the spool.
    log = SqlAuditLog(engine)
    batch = entries(80, "b")
    log.append_many(batch)
    spool = Spool.claim(spool_path, AUDIT_CODEC)
    spool.append([*batch, *entries(1, "only-in-spool")])
    spool.release()

    sink = make_sink(sinks, log, spool_path)
    sink.start()
    wait_until(lambda: not spool_path.exists())

    assert count(engine) == 81
    assert_intact(log, 81)
    assert log.head() is not None and log.head().id == "aud_only-in-spool00000"  # type: ignore[union-attr]


@pytest.mark.postgres
def test_postgres_cut_under_load_loses_and_chains_nothing_twice(
    pg_outage: tuple[TcpProxy, str], postgres_url: str, spool_path: Path, sinks: list[BufferedAuditSink]
) -> None:
    # Live connections are killed mid-stream, so some batches fail after PostgreSQL may already
    # have committed them: the retry must skip those ids under the chain lock, not chain them again.
    proxy, url = pg_outage
    engine = make_engine(url, pool_size=2)
    direct = make_engine(postgres_url, pool_size=1)
    try:
        sink = make_sink(sinks, SqlAuditLog(engine), spool_path, batch_size=25)
        sink.start()
        total, failures_seen = 1_500, 0
        for i, e in enumerate(entries(total, "load")):
            sink.append(e)
            if i % 500 == 150:
                proxy.cut()
            elif i % 500 == 300:
                wait_until(lambda seen=failures_seen: sink.failures > seen)  # type: ignore[misc]
                failures_seen = sink.failures
                proxy.restore()
            if i % 10 == 0:
                time.sleep(0.003)  # a steady rate rather than one burst
        proxy.restore()
        sink.close(timeout_s=20)

        assert sink.failures >= 3
        assert (sink.pending, sink.spooled) == (0, 0)
        assert count(direct) == total
        assert_intact(SqlAuditLog(direct), total)
    finally:
        engine.dispose()
        direct.dispose()
