"""A local, append-only spool of usage records: where ledger rows wait while the database is down.

One JSON object per line, fsync'd after every append, so a crash loses at most the line being
written (a torn last line is skipped on replay). Replaying the same line twice is harmless because
the ledger insert is idempotent on ``request_id``; the file is removed only once every line in it
has been written.

Several gateway processes may share one data directory (``serve --workers N``), so each process
claims a *slot*: ``ledger.jsonl``, then ``ledger.1.jsonl``, ``ledger.2.jsonl``… guarded by an
exclusive ``flock`` on a ``.lock`` file beside it. A restarted process claims the same low slots
and replays them; slots left by a run with more processes are adopted by whoever finds them free.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from onshore.domain.usage import UsageRecord
from onshore.ports import StoreError

if sys.platform != "win32":
    import fcntl

log = logging.getLogger(__name__)

MAX_SLOTS = 64
_FIELDS = tuple(field.name for field in dataclasses.fields(UsageRecord))


def encode(record: UsageRecord) -> bytes:
    values: dict[str, Any] = {name: getattr(record, name) for name in _FIELDS}
    values["created_at"] = record.created_at.isoformat()
    return json.dumps(values, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> UsageRecord:
    values = json.loads(line)
    # Unknown keys are dropped so a spool written by a newer version still replays here.
    known = {name: values[name] for name in _FIELDS if name in values}
    known["created_at"] = datetime.fromisoformat(known["created_at"])
    return UsageRecord(**known)


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


class Spool:
    """One claimed spool file. Thread-safe: appends and replay bookkeeping share a lock."""

    def __init__(self, path: Path, lock_fd: int) -> None:
        self.path = path
        self._lock_fd: int | None = lock_fd
        self._lock = threading.Lock()
        self._offset = 0  # bytes already written to the database during this process's replay
        self.count = 0  # rows in the file not yet confirmed written
        self._repair_and_count()

    @classmethod
    def claim(cls, base: Path) -> Spool:
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
                    return cls(path, fd)
        except OSError as exc:
            raise StoreError("the ledger spool directory is not writable") from exc
        raise StoreError(f"all {MAX_SLOTS} ledger spool slots are in use")

    def orphans(self, base: Path) -> list[Spool]:
        """Other slots of ``base`` that hold rows and that no running process owns (now locked)."""
        found: list[Spool] = []
        for slot in range(MAX_SLOTS):
            path = slot_path(base, slot)
            if path == self.path or not path.exists():
                continue
            with contextlib.suppress(OSError):
                fd = _try_lock(path)
                if fd is not None:
                    found.append(Spool(path, fd))
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

    def append(self, records: Sequence[UsageRecord]) -> None:
        """Add ``records`` durably (fsync'd before returning).

        Raises:
            StoreError: the disk refused the write; the caller keeps the rows.
        """
        if not records:
            return
        data = b"".join(encode(record) for record in records)
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
                raise StoreError("writing the ledger spool failed") from exc
            self.count += len(records)

    def replay(self, write: Callable[[list[UsageRecord]], None], batch_size: int) -> int:
        """Write the file's rows in batches through ``write``; remove the file when all are in.

        Returns the number of rows written. Whatever ``write`` raises propagates, and the rows
        not yet written stay in the file for the next attempt.
        """
        written = 0
        while True:
            with self._lock:
                batch, next_offset, skipped = self._read_batch(batch_size)
            if batch:
                write(batch)
                written += len(batch)
            with self._lock:
                self._offset = next_offset
                self.count = max(0, self.count - len(batch) - skipped)
                if batch or skipped:
                    continue
                # Nothing left to read: remove the file unless a line was appended meanwhile.
                if self.path.exists() and self.path.stat().st_size <= self._offset:
                    self.path.unlink()
                    self._offset = 0
                    self.count = 0
                return written

    def _read_batch(self, batch_size: int) -> tuple[list[UsageRecord], int, int]:
        if not self.path.exists():
            return [], 0, 0
        batch: list[UsageRecord] = []
        skipped = 0
        with self.path.open("rb") as file:
            file.seek(self._offset)
            offset = self._offset
            while len(batch) < batch_size:
                line = file.readline()
                if not line.endswith(b"\n"):  # end of file (or a line still being written)
                    break
                offset = file.tell()
                try:
                    batch.append(decode(line))
                except (ValueError, TypeError, KeyError):
                    skipped += 1
                    log.warning("skipping an unreadable line in the ledger spool %s", self.path.name)
        return batch, offset, skipped


def _fsync_dir(directory: Path) -> None:
    # The new file's directory entry must be durable too, or a power cut can lose the whole file.
    if sys.platform == "win32":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
