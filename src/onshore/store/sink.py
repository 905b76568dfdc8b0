"""The generic buffered sink behind the ledger and the audit trail; ``onshore.store.buffered``
explains what it promises (batching off the hot path, the loss bound, refused records set aside).
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Generic, TypeVar, cast

from onshore.ports import StoreError
from onshore.store.codecs import Codec
from onshore.store.setaside import (
    BatchWriter,
    RejectWriter,
    SetAside,
    SetAsideFile,
    WriteInterrupted,
    is_refusal,
    write_isolating,
)
from onshore.store.spool import PartialWrite, Spool

log = logging.getLogger(__name__)


T = TypeVar("T")


class _WriteFailed(PartialWrite):
    """The database is down (or close's deadline passed): ``remaining`` rows, the tail of the
    batch, were not written; the ``done`` before them were written or set aside."""

    def __init__(self, remaining: Sequence[object], done: int) -> None:
        super().__init__(done)
        self.remaining = list(remaining)


class _Stop(StoreError):
    """Raised instead of writing once close() has run out of time: counts as an outage."""


class _Abandoned(Exception):
    """close() gave up waiting and spooled everything itself; the worker must touch nothing more."""


class BufferedSink(Generic[T]):
    """Batches records into ``writer`` from a background thread; see the module docstring.

    Args:
        writer: Where records go; must be idempotent on the record's id.
        codec: How records become spool lines and set-aside payloads (``onshore.store.codecs``).
        spool_path: The spool file. Processes sharing a directory each claim their own slot
            beside it; refused records that cannot reach ``rejects`` go to ``<stem>.rejected``.
        name: Names the sink in logs and thread names ("ledger", "audit").
        rejects: Where refused records are set aside (the ``ledger_rejects`` table).
        batch_size: Most records per ``write_batch`` call.
        flush_interval_s: How long a record may wait in memory: before its batch is written, or,
            when it cannot be written, before it is spooled.
        max_buffered: Records kept in memory when even the spool cannot take them (a full disk);
            beyond it a warning is logged, but nothing is dropped.
        retry_interval_s: Pause between attempts while the database is down.

    Counters for metrics: ``pending`` (in memory), ``spooled`` (in this process's spool file),
    ``written`` (accepted by the writer), ``failures`` (failed attempts: outages),
    ``rejected`` (records refused by the database and set aside).
    """

    def __init__(
        self,
        writer: BatchWriter[T],
        *,
        codec: Codec[T],
        spool_path: Path,
        name: str = "ledger",
        rejects: RejectWriter | None = None,
        batch_size: int = 500,
        flush_interval_s: float = 0.5,
        max_buffered: int = 100_000,
        retry_interval_s: float = 1.0,
    ) -> None:
        if batch_size < 1 or max_buffered < 1 or flush_interval_s <= 0 or retry_interval_s <= 0:
            raise ValueError("batch_size and max_buffered must be >= 1, intervals > 0")
        self._writer = writer
        self._codec = codec
        self._name = name
        self._spool_base = spool_path
        self._set_aside = SetAside(codec, name, rejects, SetAsideFile.beside(spool_path))
        self._batch_size = batch_size
        self._flush_interval_s = flush_interval_s
        self._max_buffered = max_buffered
        self._retry_interval_s = retry_interval_s

        # Appended from any thread by submit(); only the worker, the guard or close take from it.
        # deque's append and popleft are atomic, which is what keeps submit lock-free.
        self._incoming: collections.deque[T] = collections.deque()
        # Everything below is guarded by _state: records taken from _incoming and not yet written.
        self._state = threading.Lock()
        self._held: collections.deque[T] = collections.deque()  # the spool failed: kept here
        self._inflight: list[T] = []
        self._inflight_since = 0.0
        self._progress_at = 0.0  # when the writer last finished a call (a bisection makes many)
        self._inflight_spooled = False  # the guard copied the batch being written to the spool
        self._spooling = 0  # rows on their way to the spool: pending until its fsync returns
        self._busy_since: float | None = None  # when the worker's current cycle began
        self._spool: Spool[T] | None = None
        self._spool_failing = False
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
        """Records in memory only: neither written nor spooled."""
        inflight = 0 if self._inflight_spooled else len(self._inflight)
        held = self._spooling or len(self._held)  # held rows are among those being spooled
        return len(self._incoming) + held + inflight

    @property
    def spooled(self) -> int:
        """Records in this process's spool file, not yet written."""
        return 0 if self._spool is None else self._spool.count

    @property
    def written(self) -> int:
        """Records accepted by the writer since this sink was created."""
        return self._written

    @property
    def failures(self) -> int:
        """Write attempts that failed because the database was unavailable."""
        return self._failures

    @property
    def rejected(self) -> int:
        """Records the database refused, set aside instead of written (alert on any increase)."""
        return self._set_aside.count

    @property
    def healthy(self) -> bool:
        """False from a failed write until the next successful one."""
        return not self._down

    # --- public API -----------------------------------------------------------------------------

    def submit(self, record: T) -> None:
        """Queue one record; O(1), never blocks, safe from any thread or the event loop."""
        self._incoming.append(record)
        if self._abandoned:
            # Submitted after close() finished: nobody will write it, so spool it now (slow, but
            # only ever happens during shutdown, and losing the record would be worse).
            with self._state:
                self._spool_queued()
        elif len(self._incoming) >= self._batch_size:
            self._wake.set()

    def start(self) -> None:
        """Claim the spool and start the writer and guard threads; earlier spools replay first.

        Raises:
            StoreError: the spool directory is not writable.
        """
        if self._thread is not None or self._closed:
            raise RuntimeError("a buffered sink can be started once")
        with self._state:
            self._claim_spool()
        self._thread = threading.Thread(target=self._run, name=f"onshore-{self._name}-writer", daemon=True)
        self._thread.start()
        guard = threading.Thread(target=self._guard, name=f"onshore-{self._name}-guard", daemon=True)
        guard.start()

    def close(self, timeout_s: float = 10.0) -> None:
        """Write everything still queued, spool what cannot be written, and stop the threads.

        Returns within about ``timeout_s``; records not written by then are spooled, never dropped.
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
                log.warning("%s writer did not finish within %.1fs; spooling its rows", self._name, timeout_s)
        with self._state:
            # Records the worker did not reach (deadline, a crash, or a submit racing close) go to
            # the spool; from here on the worker, if still stuck in a write, gives up on its own.
            self._abandoned = True
            if self._inflight and not self._inflight_spooled:
                self._held.extendleft(reversed(self._inflight))
            self._inflight = []
            self._spool_queued(log_lost=True)
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
            self._busy_since = time.monotonic()
            self._final_flush()
        except _Abandoned:
            return
        except Exception:  # a bug here must not kill the process; close() still spools the rows
            log.exception("the %s writer thread failed; queued rows will be spooled on close", self._name)

    def _wait_s(self) -> float:
        if self._down:
            return max(0.0, min(self._flush_interval_s, self._retry_at - time.monotonic()))
        return self._flush_interval_s

    def _cycle(self) -> None:
        if self._down and time.monotonic() < self._retry_at:
            with self._state:
                self._check_abandoned()
                self._spool_queued()  # no write before the retry: make the new rows durable now
            return
        self._busy_since = time.monotonic()
        try:
            if not self._replay_spools():
                return
            while batch := self._take():
                if not self._write_taken(batch):
                    return
        finally:
            self._busy_since = None

    def _final_flush(self) -> None:
        # One more attempt even if the database was down: it may be back, and each row written
        # now is one less to replay. The spool is replayed only if the database answers, and only
        # until close()'s deadline; whatever is left waits for the next start.
        while batch := self._take():
            if not self._write_taken(batch):
                return  # the database is still down: the spool waits for the next start
        self._replay_spools()

    def _attempt(self, batch: list[T]) -> None:
        if self._abandoned or (self._deadline is not None and time.monotonic() > self._deadline):
            raise _Stop("close() has run out of time")
        try:
            self._writer.write_batch(batch)
        except Exception as exc:
            self._progress_at = time.monotonic()
            if not is_refusal(exc):
                self._failures += 1
                if not self._down:  # once per outage, the error's class only: never a row's contents
                    log.warning("%s database unavailable (%s); spooling rows", self._name, type(exc).__name__)
                self._down = True
                self._retry_at = time.monotonic() + self._retry_interval_s
            raise
        self._progress_at = time.monotonic()
        self._written += len(batch)
        if self._down:
            log.info("%s database is back; %d rows written so far", self._name, self._written)
            self._down = False

    def _write(self, batch: list[T]) -> None:
        """Write ``batch``, setting aside what the database refuses; ``_WriteFailed`` on an outage."""
        try:
            write_isolating(batch, self._attempt, self._set_aside.record)
        except WriteInterrupted as exc:
            raise _WriteFailed(exc.remaining, len(batch) - len(exc.remaining)) from exc.__cause__

    def _write_taken(self, batch: list[T]) -> bool:
        try:
            self._write(batch)
        except _WriteFailed as failed:
            with self._state:
                self._check_abandoned()
                if not self._inflight_spooled:
                    self._held.extendleft(reversed(cast("list[T]", failed.remaining)))
                self._inflight = []
                self._spool_queued()  # the outage may last: everything in memory to disk now
            return False
        with self._state:
            self._inflight = []
        return True

    def _replay_spools(self) -> bool:
        """Write this process's spool, then any orphaned ones; False when the database refused."""
        spool = self._spool
        try:
            if spool is not None and spool.count:
                spool.replay(self._write, self._batch_size)
            if not self._orphans_checked and spool is not None:
                for orphan in spool.orphans(self._spool_base):
                    try:
                        orphan.replay(self._write, self._batch_size)
                    finally:
                        orphan.release()
                self._orphans_checked = True
        except _WriteFailed:
            return False
        return True

    def _take(self) -> list[T]:
        with self._state:
            self._check_abandoned()
            batch: list[T] = []
            while self._held and len(batch) < self._batch_size:
                batch.append(self._held.popleft())
            while self._incoming and len(batch) < self._batch_size:
                batch.append(self._incoming.popleft())
            self._inflight = batch
            self._inflight_since = time.monotonic()
            self._inflight_spooled = False
            return batch

    def _check_abandoned(self) -> None:
        if self._abandoned:
            raise _Abandoned

    # --- the guard thread: the loss bound when the writer cannot write --------------------------

    def _guard(self) -> None:
        while not self._abandoned:
            time.sleep(self._flush_interval_s)
            try:
                self._guard_tick()
            except Exception:  # never let the guard die silently; the writer still works
                log.exception("the %s spool guard failed", self._name)

    def _guard_tick(self) -> None:
        now = time.monotonic()
        with self._state:
            if self._abandoned:
                return
            busy = self._busy_since
            if not (self._down or (busy is not None and now - busy > self._flush_interval_s)):
                return
            waiting_since = max(self._inflight_since, self._progress_at)
            if self._inflight and not self._inflight_spooled and now - waiting_since > self._flush_interval_s:
                # A write hanging on a silent network: copy its rows to disk. If it succeeds
                # after all, the replay writes them again, which the idempotent writer absorbs.
                try:
                    self._claim_spool().append(self._inflight)
                    self._inflight_spooled = True
                except StoreError:
                    pass  # reported by _spool_queued below
            self._spool_queued()

    # --- spool and set-aside helpers (callers of _spool_queued hold _state) ---------------------

    def _claim_spool(self) -> Spool[T]:
        if self._spool is None:
            self._spool = Spool.claim(self._spool_base, self._codec, self._set_aside.unreadable_line)
        return self._spool

    def _spool_queued(self, *, log_lost: bool = False) -> None:
        """Move every record in memory (held, then incoming) to the spool; keep them if it fails."""
        rows = list(self._held)
        while self._incoming:
            rows.append(self._incoming.popleft())
        if not rows:
            return
        self._spooling = len(rows)
        try:
            self._claim_spool().append(rows)
        except StoreError:
            self._held = collections.deque(rows)  # over the memory bound perhaps, but not lost
            if log_lost:
                log.error("%d %s rows only in memory: database and spool both failed", len(rows), self._name)
            elif not self._spool_failing:
                log.exception("cannot spool %d %s rows; keeping them in memory", len(rows), self._name)
            self._spool_failing = True
            if len(rows) > self._max_buffered:
                log.warning("%d %s rows held in memory (bound %d)", len(rows), self._name, self._max_buffered)
            return
        finally:
            self._spooling = 0
        self._held.clear()
        self._spool_failing = False
