"""The loss bound is the flush interval, outage or not (issue 13, item 4).

Found from outside: during a database outage rows waited in memory (up to ``max_buffered`` =
100,000), so ``kill -9`` lost every row of the outage. Now a failed write spools everything in
memory at once, new rows follow every flush interval, and a write stuck longer than that is copied
to the spool too; while the database is up nothing touches the disk.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from tests.support.usage_series import ledger_record

from onshore.domain.usage import UsageRecord
from onshore.ports import StoreError
from onshore.store.buffered import BufferedUsageSink

FLUSH_S = 0.2
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def record(request_id: str) -> UsageRecord:
    return ledger_record(request_id, T0)


class Writer:
    def __init__(self) -> None:
        self.stored: dict[str, UsageRecord] = {}
        self.down = False
        self.hang = threading.Event()
        self.release = threading.Event()

    def write_batch(self, records: Sequence[UsageRecord]) -> None:
        if self.hang.is_set():
            self.release.wait(30)  # a silent network: no answer, no error
        if self.down:
            raise StoreError("database unavailable")
        for r in records:
            self.stored.setdefault(r.request_id, r)


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError("condition not reached in time")
        time.sleep(0.005)
    return time.monotonic() - started


def spool_lines(spool_path: Path) -> set[str]:
    import json

    found: set[str] = set()
    for path in spool_path.parent.glob("*.jsonl"):
        if "rejected" not in path.name:
            found |= {json.loads(line)["request_id"] for line in path.read_bytes().splitlines() if line}
    return found


def test_during_an_outage_new_rows_reach_the_spool_within_the_flush_interval(tmp_path: Path) -> None:
    writer = Writer()
    spool_path = tmp_path / "ledger.jsonl"
    sink = BufferedUsageSink(writer, spool_path=spool_path, flush_interval_s=FLUSH_S, retry_interval_s=60)
    sink.start()
    try:
        writer.down = True
        sink.submit(record("first"))
        wait_until(lambda: sink.failures > 0 and sink.pending == 0)  # the failed batch went to disk
        ids = [f"r{i}" for i in range(300)]
        for i in ids:
            sink.submit(record(i))
            time.sleep(0.001)
        took = wait_until(lambda: sink.pending == 0)

        # No retry happens before 60 s: only the spool can have taken them, within about one
        # interval (the margin is for a loaded test machine; before the fix they waited 60 s).
        assert took <= FLUSH_S * 2 + 0.5, took
        assert spool_lines(spool_path) == {"first", *ids}
        assert writer.stored == {}
    finally:
        writer.down = False
        sink.close(timeout_s=5)
    assert set(writer.stored) == {"first", *ids}


def test_a_write_stuck_on_a_silent_network_does_not_hold_rows_in_memory(tmp_path: Path) -> None:
    writer = Writer()
    spool_path = tmp_path / "ledger.jsonl"
    sink = BufferedUsageSink(writer, spool_path=spool_path, flush_interval_s=FLUSH_S, batch_size=10)
    sink.start()
    try:
        writer.hang.set()
        ids = [f"r{i}" for i in range(50)]
        for i in ids:
            sink.submit(record(i))
        wait_until(lambda: sink.pending == 0, timeout=FLUSH_S * 4 + 1)
        # The batch being written and everything behind it are on disk, though no write failed.
        assert spool_lines(spool_path) == set(ids)
        assert sink.failures == 0
    finally:
        writer.hang.clear()
        writer.release.set()
        sink.close(timeout_s=5)
    assert set(writer.stored) == set(ids)


def test_while_the_database_is_up_nothing_touches_the_disk(tmp_path: Path) -> None:
    writer = Writer()
    sink = BufferedUsageSink(writer, spool_path=tmp_path / "spool" / "ledger.jsonl", flush_interval_s=0.01)
    sink.start()
    for i in range(2_000):
        sink.submit(record(f"r{i}"))
        if i % 200 == 0:
            time.sleep(0.02)
    wait_until(lambda: len(writer.stored) == 2_000)
    sink.close()
    # Only the slot's lock file exists: no spool file was ever created.
    assert sorted(p.name for p in (tmp_path / "spool").iterdir()) == ["ledger.jsonl.lock"]


CHILD = textwrap.dedent(
    """
    import sys, time
    from datetime import UTC, datetime
    from pathlib import Path
    from onshore.domain.usage import UsageRecord
    from onshore.ports import StoreError
    from onshore.store.buffered import BufferedUsageSink

    class Down:
        def write_batch(self, records):
            raise StoreError("database unavailable")

    flush = float(sys.argv[2])
    sink = BufferedUsageSink(Down(), spool_path=Path(sys.argv[1]), flush_interval_s=flush, retry_interval_s=30)
    sink.start()
    for i in range(500):
        sink.submit(UsageRecord(f"r{i}", datetime.now(UTC), "o", "k", "chat.completions", "m", None, 200, False))
        time.sleep(0.002)
    print("submitted", flush=True)
    time.sleep(3600)
    """
)


def test_kill_9_during_an_outage_loses_nothing_older_than_the_flush_interval(tmp_path: Path) -> None:
    spool_path = tmp_path / "ledger.jsonl"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(spool_path), str(FLUSH_S)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "submitted"
        time.sleep(FLUSH_S * 2)  # longer than the bound since the last row
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()

    writer = Writer()
    replayer = BufferedUsageSink(writer, spool_path=spool_path, flush_interval_s=0.01)
    replayer.start()
    wait_until(lambda: len(writer.stored) == 500)
    replayer.close()
    assert set(writer.stored) == {f"r{i}" for i in range(500)}
