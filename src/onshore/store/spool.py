"""A local, append-only spool of records: where buffered rows wait while they cannot be written.

One JSON object per line (see ``onshore.store.codecs``), fsync'd after every append, so a crash
loses at most the line being written (a torn last line is set aside on replay). Replaying the same
line twice is harmless because the writers are idempotent on the record's id; the file is removed
only once every line in it has been written.

Several gateway processes may share one data directory (``serve --workers N``), so each process
claims a *slot*: ``ledger.jsonl``, then ``ledger.1.jsonl``, ``ledger.2.jsonl``… guarded by an
exclusive ``flock`` on a ``.lock`` file beside it. A restarted process claims the same low slots
and replays them; slots left by a run with more processes are adopted by whoever finds them free.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Generic, TypeVar

from onshore.ports import StoreError
from onshore.store.codecs import Codec

if sys.platform != "win32":
    import fcntl

log = logging.getLogger(__name__)

MAX_SLOTS = 64
T = TypeVar("T")


def slot_path(base: Path, slot: int) -> Path:
    return base if slot == 0 else base.with_name(f"{base.stem}.{slot}{base.suffix}")


def _try_lock(path: Path) -> int | None:
    """An open, exclusively locked fd on ``path``'s lock file, or None when another process has it."""
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    if sys.platform == "win32":  # no flock: one process per data directory is assumed there
        return fd
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


class Spool(Generic[T]):
    """One claimed spool file. Thread-safe: appends and replay bookkeeping share a lock.

    Args:
        path: The slot's file.
        lock_fd: The open, flocked lock file that makes this process the slot's owner.
        codec: How records become lines and back.
        on_unreadable: Given every line that cannot be decoded (a torn last line after a crash,
            or a line no version can read), so it is set aside rather than silently dropped.
    """

    def __init__(
        self,
        path: Path,
        lock_fd: int,
        codec: Codec[T],
        on_unreadable: Callable[[bytes], None] | None = None,
    ) -> None:
        self.path = path
        self._codec = codec
        self._on_unreadable = on_unreadable
        self._lock_fd: int | None = lock_fd
        self._lock = threading.Lock()
        self._offset = 0  # bytes already written to the database during this process's replay
        self.count = 0  # rows in the file not yet confirmed written
        self._repair_and_count()

    @classmethod
    def claim(
        cls, base: Path, codec: Codec[T], on_unreadable: Callable[[bytes], None] | None = None
    ) -> Spool[T]:
        """The lowest free slot for ``base``.

        Raises:
            StoreError: the directory is not writable or every slot is taken.
        """
        try:
            base.parent.mkdir(parents=True, exist_ok=True)
            for slot in range(MAX_SLOTS):
                path = slot_path(base, slot)
                fd = _try_lock(path)
                if fd is not None:
                    return cls(path, fd, codec, on_unreadable)
        except OSError as exc:
            raise StoreError(f"the spool directory for {base.name} is not writable") from exc
        raise StoreError(f"all {MAX_SLOTS} spool slots for {base.name} are in use")

    def orphans(self, base: Path) -> list[Spool[T]]:
        """Other slots of ``base`` that hold rows and that no running process owns (now locked)."""
        found: list[Spool[T]] = []
        for slot in range(MAX_SLOTS):
            path = slot_path(base, slot)
            if path == self.path or not path.exists():
                continue
            with contextlib.suppress(OSError):
                fd = _try_lock(path)
                if fd is not None:
                    found.append(Spool(path, fd, self._codec, self._on_unreadable))
        return found

    def release(self) -> None:
        with self._lock:
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # closing the fd drops the flock
                self._lock_fd = None

    def _repair_and_count(self) -> None:
        # A crash in the middle of an append leaves a line without its newline; terminate it so the
        # next append starts a fresh line (the torn one is then skipped as unreadable on replay).
        if not self.path.exists():
            return
        with self.path.open("rb+") as file:
            file.seek(0, os.SEEK_END)
            if file.tell() > 0:
                file.seek(-1, os.SEEK_END)
                if file.read(1) != b"\n":
                    file.write(b"\n")
                    file.flush()
                    os.fsync(file.fileno())
            file.seek(0)
            self.count = sum(1 for _ in file)

    def append(self, records: Sequence[T]) -> None:
        """Add ``records`` durably (fsync'd before returning).

        Raises:
            StoreError: the disk refused the write; the caller keeps the rows.
        """
        if not records:
            return
        data = b"".join(self._codec.encode(record) for record in records)
        with self._lock:
            try:
                created = not self.path.exists()
                with self.path.open("ab") as file:
                    file.write(data)
                    file.flush()
                    os.fsync(file.fileno())
                if created:
                    _fsync_dir(self.path.parent)
            except OSError as exc:
                raise StoreError(f"writing the spool {self.path.name} failed") from exc
            self.count += len(records)

    def replay(self, write: Callable[[list[T]], None], batch_size: int) -> int:
        """Write the file's rows in batches through ``write``; remove the file when all are in.

        Returns the number of rows written. Whatever ``write`` raises propagates, and the rows
        not yet written stay in the file for the next attempt; when it raises
        :class:`PartialWrite`, the first ``done`` rows of its batch count as written, so they are
        not written again.
        """
        written = 0
        while True:
            with self._lock:
                batch, ends, tail, skipped = self._read_batch(batch_size)
            if batch:
                try:
                    write(batch)
                except PartialWrite as partial:
                    if partial.done > 0:
                        with self._lock:
                            self._offset, lines = ends[partial.done - 1]
                            self.count = max(0, self.count - lines)
                    raise
                written += len(batch)
            with self._lock:
                self._offset = tail
                self.count = max(0, self.count - len(batch) - skipped)
                if batch or skipped:
                    continue
                # Nothing left to read: remove the file unless a line was appended meanwhile.
                if self.path.exists() and self.path.stat().st_size <= self._offset:
                    self.path.unlink()
                    self._offset = 0
                    self.count = 0
                return written

    def _read_batch(self, batch_size: int) -> tuple[list[T], list[tuple[int, int]], int, int]:
        """Up to ``batch_size`` records from the current offset.

        Returns the records; for each, the file offset just after its line and the number of
        lines read up to it (unreadable ones included); the offset after the last line read; and
        how many lines were unreadable.
        """
        if not self.path.exists():
            return [], [], 0, 0
        batch: list[T] = []
        ends: list[tuple[int, int]] = []
        skipped = 0
        with self.path.open("rb") as file:
            file.seek(self._offset)
            tail = self._offset
            while len(batch) < batch_size:
                line = file.readline()
                if not line.endswith(b"\n"):  # end of file (or a line still being written)
                    break
                tail = file.tell()
                try:
                    batch.append(self._codec.decode(line))
                except (ValueError, TypeError, KeyError):
                    skipped += 1
                    log.warning("setting aside an unreadable line in the spool %s", self.path.name)
                    if self._on_unreadable is not None:
                        self._on_unreadable(line)
                    continue
                ends.append((tail, len(batch) + skipped))
        return batch, ends, tail, skipped


class PartialWrite(Exception):
    """A replay's ``write`` handled only the first ``done`` records of its batch, then failed."""

    def __init__(self, done: int) -> None:
        super().__init__(f"{done} records handled before the failure")
        self.done = done


def _fsync_dir(directory: Path) -> None:
    # The new file's directory entry must be durable too, or a power cut can lose the whole file.
    if sys.platform == "win32":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
