"""BufferedUsageSink: batching off the hot path, surviving outages, never losing or doubling a row."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import pytest
from sqlalchemy import Engine, func, select
from tests.support.usage_series import ledger_record

from onshore.domain.usage import UsageRecord
from onshore.ports import StoreError, UsageWriter
from onshore.store.buffered import BufferedUsageSink
from onshore.store.codecs import USAGE_CODEC
from onshore.store.spool import Spool, slot_path
from onshore.store.sql import SqlUsageStore, make_engine
from onshore.store.sql.schema import usage_records

T0 = datetime(2026, 3, 1, tzinfo=UTC)
CLOSED_PORT_URL = "postgresql://postgres@127.0.0.1:1/onshore_unreachable"


def record(request_id: str) -> UsageRecord:
    return ledger_record(
        request_id,
        T0,
        streamed=True,
        prompt_tokens=3,
        completion_tokens=4,
        total_tokens=7,
        ttft_ms=1.5,
        latency_ms=9.0,
    )


def rows(n: int, prefix: str = "r") -> list[UsageRecord]:
    return [record(f"{prefix}{i:05d}") for i in range(n)]


class FakeWriter:
    """An idempotent in-memory ledger that can be taken down, like the real one."""

    def __init__(self) -> None:
        self.stored: dict[str, UsageRecord] = {}
        self.deliveries: Counter[str] = Counter()
        self.batch_sizes: list[int] = []
        self.down = False
        self.lock = threading.Lock()

    def write_batch(self, records: Sequence[UsageRecord]) -> None:
        if self.down:
            raise StoreError("database unavailable")
        with self.lock:
            self.batch_sizes.append(len(records))
            for r in records:
                self.deliveries[r.request_id] += 1
                self.stored.setdefault(r.request_id, r)


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.005)


@pytest.fixture
def spool_path(tmp_path: Path) -> Path:
    return tmp_path / "spool" / "ledger.jsonl"


@pytest.fixture
def writer() -> FakeWriter:
    return FakeWriter()


@pytest.fixture
def make_sink(spool_path: Path) -> Iterator[Callable[..., BufferedUsageSink]]:
    sinks: list[BufferedUsageSink] = []

    def build(target: UsageWriter, **overrides: float) -> BufferedUsageSink:
        options: dict[str, float] = {
            "batch_size": 50,
            "flush_interval_s": 0.01,
            "max_buffered": 1_000,
            "retry_interval_s": 0.02,
        }
        options.update(overrides)
        sink = BufferedUsageSink(
            target,
            spool_path=spool_path,
            batch_size=int(options["batch_size"]),
            flush_interval_s=options["flush_interval_s"],
            max_buffered=int(options["max_buffered"]),
            retry_interval_s=options["retry_interval_s"],
        )
        sinks.append(sink)
        return sink

    yield build
    for sink in sinks:
        sink.close(timeout_s=2)


def test_every_row_is_written_in_bounded_batches(
    make_sink: Callable[..., BufferedUsageSink], writer: FakeWriter, spool_path: Path
) -> None:
    sink = make_sink(writer)
    sink.submit(record("before-start"))
    sink.start()
    batch = rows(1234)
    for r in batch:
        sink.submit(r)

    wait_until(lambda: sink.written == 1235)
    sink.close()

    assert set(writer.stored) == {r.request_id for r in batch} | {"before-start"}
    assert max(writer.deliveries.values()) == 1
    assert max(writer.batch_sizes) <= 50
    assert (sink.pending, sink.spooled, sink.failures) == (0, 0, 0)
    assert not spool_path.exists()


def test_a_full_batch_is_written_before_the_interval(
    make_sink: Callable[..., BufferedUsageSink], writer: FakeWriter
) -> None:
    sink = make_sink(writer, batch_size=10, flush_interval_s=30)
    sink.start()
    time.sleep(0.05)  # let the thread reach its long wait
    for r in rows(10):
        sink.submit(r)

    wait_until(lambda: sink.written == 10, timeout=5)


def test_close_flushes_what_is_queued(
    make_sink: Callable[..., BufferedUsageSink], writer: FakeWriter
) -> None:
    sink = make_sink(writer, flush_interval_s=30, batch_size=1_000)
    sink.start()
    for r in rows(100):
        sink.submit(r)

    sink.close(timeout_s=5)

    assert len(writer.stored) == 100


def test_close_without_start_writes_in_the_caller(
    make_sink: Callable[..., BufferedUsageSink], writer: FakeWriter
) -> None:
    sink = make_sink(writer)
    for r in rows(120):
        sink.submit(r)
    sink.close()
    assert len(writer.stored) == 120


def test_outage_buffers_then_spools_then_writes_each_row_once(
    make_sink: Callable[..., BufferedUsageSink], writer: FakeWriter, spool_path: Path
) -> None:
    writer.down = True
    sink = make_sink(writer, max_buffered=100)
    sink.start()
    batch = rows(500)
    for r in batch:
        sink.submit(r)

    wait_until(lambda: sink.failures > 0 and sink.spooled >= 400 and sink.pending <= 100)
    assert not sink.healthy
    assert spool_path.exists()
    assert writer.stored == {}

    writer.down = False
    wait_until(lambda: len(writer.stored) == 500 and not spool_path.exists())

    assert sink.healthy
    assert (sink.pending, sink.spooled) == (0, 0)
    assert set(writer.deliveries.values()) == {1}


def test_close_during_outage_spools_everything_and_the_next_sink_replays_it(
    make_sink: Callable[..., BufferedUsageSink], writer: FakeWriter, spool_path: Path
) -> None:
    writer.down = True
    first = make_sink(writer, max_buffered=1_000)
    first.start()
    for r in rows(300):
        first.submit(r)
    first.close(timeout_s=2)

    assert spool_path.exists()
    assert writer.stored == {}
    assert first.spooled == 300

    writer.down = False
    second = make_sink(writer)
    second.start()
    wait_until(lambda: len(writer.stored) == 300 and not spool_path.exists())
    assert set(writer.deliveries.values()) == {1}


def test_close_writes_held_and_spooled_rows_when_the_database_is_back(
    make_sink: Callable[..., BufferedUsageSink], writer: FakeWriter, spool_path: Path
) -> None:
    writer.down = True
    sink = make_sink(writer, max_buffered=10, retry_interval_s=60)  # no retry before close
    sink.start()
    for r in rows(100):
        sink.submit(r)
    wait_until(lambda: sink.failures > 0 and sink.spooled >= 90)

    writer.down = False
    sink.close(timeout_s=5)

    assert len(writer.stored) == 100
    assert (sink.pending, sink.spooled) == (0, 0)
    assert not spool_path.exists()


def test_rows_submitted_after_close_are_spooled(
    make_sink: Callable[..., BufferedUsageSink], writer: FakeWriter, spool_path: Path
) -> None:
    sink = make_sink(writer)
    sink.start()
    sink.close()
    sink.submit(record("late"))

    replayer = make_sink(writer)
    replayer.start()
    wait_until(lambda: "late" in writer.stored and not spool_path.exists())


def test_close_returns_on_time_when_a_write_hangs(
    make_sink: Callable[..., BufferedUsageSink], spool_path: Path
) -> None:
    release = threading.Event()
    entered = threading.Event()

    class HangingWriter(FakeWriter):
        def write_batch(self, records: Sequence[UsageRecord]) -> None:
            entered.set()
            release.wait(10)
            super().write_batch(records)

    hanging = HangingWriter()
    sink = make_sink(hanging)
    sink.start()
    for r in rows(20):
        sink.submit(r)
    assert entered.wait(5)
    assert sink.pending == 20

    started = time.monotonic()
    sink.close(timeout_s=0.3)
    assert time.monotonic() - started < 2

    release.set()
    # Every row is either in the spool or already written: replaying settles both, once each.
    writer = FakeWriter()
    replayer = make_sink(writer)
    replayer.start()
    wait_until(lambda: len(writer.stored) == 20)


def test_a_torn_spool_line_is_skipped_and_the_rest_replayed(
    make_sink: Callable[..., BufferedUsageSink], writer: FakeWriter, spool_path: Path
) -> None:
    spool = Spool.claim(spool_path, USAGE_CODEC)
    spool.append(rows(5))
    spool.release()
    with spool_path.open("ab") as file:
        file.write(b'{"request_id":"torn","created_')  # a crash in the middle of an append

    sink = make_sink(writer)
    sink.start()
    sink.submit(record("after-crash"))

    wait_until(lambda: len(writer.stored) == 6 and not spool_path.exists())
    assert "torn" not in writer.stored


def test_processes_sharing_a_directory_claim_separate_slots_and_orphans_are_adopted(
    make_sink: Callable[..., BufferedUsageSink], writer: FakeWriter, spool_path: Path
) -> None:
    writer.down = True
    one = make_sink(writer)
    two = make_sink(writer)
    one.start()
    two.start()
    one.submit(record("from-one"))
    two.submit(record("from-two"))
    one.close(timeout_s=1)
    two.close(timeout_s=1)
    assert spool_path.exists()
    assert slot_path(spool_path, 1).exists()

    writer.down = False
    survivor = make_sink(writer)  # the restart runs with one process only
    survivor.start()
    wait_until(lambda: set(writer.stored) == {"from-one", "from-two"})
    wait_until(lambda: not slot_path(spool_path, 1).exists())


def test_invalid_settings_are_refused(writer: FakeWriter, spool_path: Path) -> None:
    with pytest.raises(ValueError):
        BufferedUsageSink(
            writer,
            spool_path=spool_path,
            batch_size=0,
            flush_interval_s=1,
            max_buffered=1,
            retry_interval_s=1,
        )


# --- against the real databases -------------------------------------------------------------------


class SwitchableWriter:
    """Sends batches to an unreachable PostgreSQL until switched to the real database."""

    def __init__(self, real: SqlUsageStore, unreachable: SqlUsageStore) -> None:
        self.real = real
        self.unreachable = unreachable
        self.up = False

    def write_batch(self, records: Sequence[UsageRecord]) -> None:
        (self.real if self.up else self.unreachable).write_batch(records)


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(usage_records)).scalar_one())


def test_database_outage_loses_and_doubles_nothing(
    make_sink: Callable[..., BufferedUsageSink], engine: Engine, spool_path: Path
) -> None:
    dead_engine = make_engine(CLOSED_PORT_URL)
    target = SwitchableWriter(SqlUsageStore(engine), SqlUsageStore(dead_engine))
    try:
        sink = make_sink(target, max_buffered=50, batch_size=40)
        sink.start()
        for r in rows(300, "pg"):
            sink.submit(r)
        wait_until(lambda: sink.failures > 0 and sink.spooled >= 250)

        target.up = True
        for r in rows(100, "after"):
            sink.submit(r)
        wait_until(lambda: count(engine) == 400 and not spool_path.exists())
        sink.close()
        assert count(engine) == 400
    finally:
        dead_engine.dispose()


def test_replaying_rows_already_written_adds_nothing(
    make_sink: Callable[..., BufferedUsageSink], engine: Engine, spool_path: Path
) -> None:
    # The crash window: a batch committed, then the process died before removing the spool.
    ledger = SqlUsageStore(engine)
    batch = rows(80)
    ledger.write_batch(batch)
    spool = Spool.claim(spool_path, USAGE_CODEC)
    spool.append([*batch, replace(batch[0], request_id="only-in-spool")])
    spool.release()

    sink = make_sink(ledger)
    sink.start()
    wait_until(lambda: not spool_path.exists())

    assert count(engine) == 81
    assert batch[0] in ledger.records(T0, T0 + timedelta(seconds=1))


def more_failures_than(sink: BufferedUsageSink, seen: int) -> Callable[[], bool]:
    return lambda: sink.failures > seen


class Outage(Protocol):
    def cut(self) -> None: ...
    def restore(self) -> None: ...


@pytest.mark.postgres
def test_postgres_cut_under_load_loses_and_doubles_nothing(
    make_sink: Callable[..., BufferedUsageSink], pg_outage: tuple[Outage, str], postgres_url: str
) -> None:
    # Live connections are killed mid-stream, so some batches fail after PostgreSQL may already
    # have committed them: the retry must be absorbed by the idempotent insert.
    proxy, url = pg_outage
    engine = make_engine(url, pool_size=2)
    direct = make_engine(postgres_url, pool_size=1)
    try:
        sink = make_sink(SqlUsageStore(engine), batch_size=25, max_buffered=100)
        sink.start()
        total = 2_000
        failures_seen = 0
        for i, r in enumerate(rows(total, "load")):
            sink.submit(r)
            if i % 500 == 150:
                proxy.cut()
            elif i % 500 == 300:
                wait_until(more_failures_than(sink, failures_seen))  # this cut was noticed
                failures_seen = sink.failures
                proxy.restore()
            if i % 10 == 0:
                time.sleep(0.003)  # a steady request rate rather than one burst
        proxy.restore()
        sink.close(timeout_s=20)

        assert sink.failures >= 4
        assert (sink.pending, sink.spooled) == (0, 0)
        assert count(direct) == total
    finally:
        engine.dispose()
        direct.dispose()
