"""The ledger, written off the hot path: a background thread batches rows into a ``UsageWriter``.

``submit`` is what the gateway calls for every request, on the event loop: one ``deque.append``,
no lock, no I/O. A daemon thread wakes every ``flush_interval_s`` (or as soon as a batch is full)
and writes batches of up to ``batch_size``. While the database is down the rows wait: in memory up
to ``max_buffered``, beyond that in a local spool file (see ``onshore.store.spool``), and writing is
retried every ``retry_interval_s``. When it succeeds the spool is replayed and removed. ``close``
writes what it can and spools the rest, so a graceful shutdown never loses a row even when the
database is unreachable; the next ``start`` replays the spool first.

A row may reach the database twice (a batch that timed out but committed, a crash between a write
and the spool's removal); ``UsageWriter.write_batch`` is idempotent on ``request_id``, so the
ledger still holds it once.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from pathlib import Path

from onshore.domain.usage import UsageRecord
from onshore.ports import StoreError, UsageWriter
from onshore.store.spool import Spool

log = logging.getLogger(__name__)


class _WriteFailed(Exception):
    """A batch was not written (database down, or close's deadline passed); the rows are kept."""


class _Abandoned(Exception):
    """close() gave up waiting and spooled everything itself; the worker must touch nothing more."""


class BufferedUsageSink:
    """Batches ``UsageRecord`` rows into ``writer`` from a background thread.

    Args:
        writer: Where rows go (``SqlUsageStore``); must be idempotent on ``request_id``.
        spool_path: The spool file for rows that do not fit in memory while the database is down.
            Processes sharing a directory each claim their own slot beside it.
        batch_size: Most rows per ``write_batch`` call.
        flush_interval_s: How long a row may wait before its batch is written.
        max_buffered: Rows kept in memory while the database is down; the rest are spooled.
        retry_interval_s: Pause between attempts while the database is down.

    Counters for metrics: ``pending`` (in memory), ``spooled`` (in this process's spool file),
    ``written`` (rows accepted by the writer), ``failures`` (failed write attempts).
    """

    def __init__(
        self,
        writer: UsageWriter,
        *,
        spool_path: Path,
        batch_size: int = 500,
        flush_interval_s: float = 0.5,
        max_buffered: int = 100_000,
        retry_interval_s: float = 1.0,
    ) -> None:
        if batch_size < 1 or max_buffered < 1 or flush_interval_s <= 0 or retry_interval_s <= 0:
            raise ValueError("batch_size and max_buffered must be >= 1, intervals > 0")
        self._writer = writer
        self._spool_base = spool_path
        self._batch_size = batch_size
        self._flush_interval_s = flush_interval_s
        self._max_buffered = max_buffered
        self._retry_interval_s = retry_interval_s

        # Appended from any thread by submit(); only the worker (or close) takes from it. deque's
        # append and popleft are atomic, which is what keeps submit lock-free.
        self._incoming: collections.deque[UsageRecord] = collections.deque()
        # Everything below is guarded by _state: rows taken from _incoming and not yet written.
        self._state = threading.Lock()
        self._held: collections.deque[UsageRecord] = collections.deque()
        self._inflight: list[UsageRecord] = []
        self._spool: Spool | None = None
        self._abandoned = False

        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._deadline: float | None = None
        self._down = False
        self._retry_at = 0.0
        self._orphans_checked = False
        self._written = 0
        self._failures = 0

    # --- counters -------------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Rows in memory, not yet written."""
        return len(self._incoming) + len(self._held) + len(self._inflight)

    @property
    def spooled(self) -> int:
        """Rows in this process's spool file, not yet written."""
        return 0 if self._spool is None else self._spool.count

    @property
    def written(self) -> int:
        """Rows accepted by the writer since this sink was created."""
        return self._written

    @property
    def failures(self) -> int:
        """Failed write attempts since this sink was created."""
        return self._failures

    @property
    def healthy(self) -> bool:
        """False from a failed write until the next successful one."""
        return not self._down

    # --- public API -----------------------------------------------------------------------------

    def submit(self, record: UsageRecord) -> None:
        """Queue one row; O(1), never blocks, safe from any thread or the event loop."""
        self._incoming.append(record)
        if self._abandoned:
            # Submitted after close() finished: nobody will write it, so spool it now (slow, but
            # only ever happens during shutdown, and losing the row would be worse).
            self._spool_late()
        elif len(self._incoming) >= self._batch_size:
            self._wake.set()

    def start(self) -> None:
        """Claim the spool and start the writer thread, which replays any earlier spool first.

        Raises:
            StoreError: the spool directory is not writable.
        """
        if self._thread is not None or self._closed:
            raise RuntimeError("a BufferedUsageSink can be started once")
        with self._state:
            self._claim_spool()
        self._thread = threading.Thread(target=self._run, name="onshore-ledger-writer", daemon=True)
        self._thread.start()

    def close(self, timeout_s: float = 10.0) -> None:
        """Write everything still queued, spool what cannot be written, and stop the thread.

        Returns within about ``timeout_s``; rows not written by then are spooled, never dropped.
        """
        if self._closed:
            return
        self._closed = True
        self._deadline = time.monotonic() + timeout_s
        if self._thread is None:
            self._final_flush()  # never started: do the work in the caller's thread
        else:
            self._stopping.set()
            self._wake.set()
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.warning("ledger writer did not finish within %.1fs; spooling its rows", timeout_s)
        with self._state:
            # Rows the worker did not reach (deadline, a crash, or a submit racing close) go to the
            # spool; from here on the worker, if still stuck in a write, gives up on its own.
            self._abandoned = True
            self._spool_remaining()
            if self._spool is not None:
                self._spool.release()

    # --- the writer thread ----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._cycle()
            while not self._stopping.is_set():
                self._wake.wait(self._wait_s())
                self._wake.clear()
                if self._stopping.is_set():
                    break
                self._cycle()
            self._final_flush()
        except _Abandoned:
            return
        except Exception:  # a bug here must not kill the process; close() still spools the rows
            log.exception("the ledger writer thread failed; queued rows will be spooled on close")

    def _wait_s(self) -> float:
        if self._down:
            return max(0.0, self._retry_at - time.monotonic())
        return self._flush_interval_s

    def _cycle(self) -> None:
        if self._down and time.monotonic() < self._retry_at:
            self._absorb()
            return
        if not self._replay_spools():
            self._absorb()
            return
        while batch := self._take():
            if not self._write_held(batch):
                self._absorb()
                return

    def _final_flush(self) -> None:
        # One more attempt even if the database was down: it may be back, and each row written
        # now is one less to replay. The spool is replayed only if the database answers, and only
        # until close()'s deadline; whatever is left waits for the next start.
        while batch := self._take():
            if not self._write_held(batch):
                break
        if not self._down:
            self._replay_spools()
        with self._state:
            if not self._abandoned:
                self._spool_remaining()

    def _attempt(self, batch: list[UsageRecord]) -> None:
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise _WriteFailed("close() deadline passed")
        try:
            self._writer.write_batch(batch)
        except Exception as exc:
            self._failures += 1
            if self._abandoned:
                raise _Abandoned from exc
            if not self._down:
                # Logged once per outage, with counts only: never a row's contents.
                log.warning(
                    "ledger database unavailable (%s); keeping %d rows and retrying every %.1fs",
                    type(exc).__name__,
                    self.pending,
                    self._retry_interval_s,
                )
            if not isinstance(exc, StoreError):
                log.exception("the ledger writer raised an unexpected error")
            self._down = True
            self._retry_at = time.monotonic() + self._retry_interval_s
            raise _WriteFailed from exc
        self._written += len(batch)
        if self._down:
            log.info("ledger database is back; %d rows written so far", self._written)
            self._down = False
        if self._abandoned:
            raise _Abandoned

    def _write_held(self, batch: list[UsageRecord]) -> bool:
        try:
            self._attempt(batch)
        except _WriteFailed:
            with self._state:
                if self._abandoned:
                    raise _Abandoned from None
                self._held.extendleft(reversed(batch))
                self._inflight = []
            return False
        with self._state:
            self._inflight = []
        return True

    def _replay_spools(self) -> bool:
        """Write this process's spool, then any orphaned ones; False when the database refused."""
        spool = self._spool
        try:
            if spool is not None and spool.count:
                spool.replay(self._attempt, self._batch_size)
            if not self._orphans_checked and spool is not None:
                for orphan in spool.orphans(self._spool_base):
                    try:
                        orphan.replay(self._attempt, self._batch_size)
                    finally:
                        orphan.release()
                self._orphans_checked = True
        except _WriteFailed:
            return False
        return True

    def _take(self) -> list[UsageRecord]:
        with self._state:
            if self._abandoned:
                raise _Abandoned
            batch: list[UsageRecord] = []
            while self._held and len(batch) < self._batch_size:
                batch.append(self._held.popleft())
            while self._incoming and len(batch) < self._batch_size:
                batch.append(self._incoming.popleft())
            self._inflight = batch
            return batch

    def _absorb(self) -> None:
        """Move queued rows into the held buffer, spilling past ``max_buffered`` to the spool."""
        with self._state:
            if self._abandoned:
                raise _Abandoned
            while self._incoming:
                self._held.append(self._incoming.popleft())
            overflow = len(self._held) - self._max_buffered
            if overflow <= 0:
                return
            rows = [self._held.pop() for _ in range(overflow)]
            rows.reverse()
            try:
                self._claim_spool().append(rows)
            except StoreError:
                self._held.extend(rows)  # over the memory bound, but not lost
                log.exception("cannot spool %d ledger rows; keeping them in memory", len(rows))

    # --- spool helpers (callers hold _state) ----------------------------------------------------

    def _claim_spool(self) -> Spool:
        if self._spool is None:
            self._spool = Spool.claim(self._spool_base)
        return self._spool

    def _spool_remaining(self) -> None:
        rows = [*self._inflight, *self._held]
        while self._incoming:
            rows.append(self._incoming.popleft())
        self._inflight = []
        self._held.clear()
        if not rows:
            return
        try:
            self._claim_spool().append(rows)
        except StoreError:
            log.exception("LOST %d ledger rows: the database and the spool file both failed", len(rows))
            return
        log.info("spooled %d ledger rows to be written on the next start", len(rows))

    def _spool_late(self) -> None:
        with self._state:
            rows: list[UsageRecord] = []
            while self._incoming:
                rows.append(self._incoming.popleft())
            if not rows:
                return
            try:
                spool = self._claim_spool()
                spool.append(rows)
            except StoreError:
                log.exception("LOST %d ledger rows submitted after close", len(rows))
