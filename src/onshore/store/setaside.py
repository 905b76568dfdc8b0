"""One bad record never blocks the others: find it, write the rest, set it aside durably.

A writer fails a batch for one of two reasons. *Transient*: the database is unreachable, busy or
restarting (``StoreError``); the same batch will succeed later, so it is kept and retried. *Refused*:
the database will never accept a record as it is (a NUL byte in a PostgreSQL text column, a value
out of range, a broken constraint: ``RecordsRefused``, or any other exception a writer raises, such
as a ``ValueError`` from a driver that cannot encode a value); retrying the batch would fail for ever
and block every record behind it. For a refused batch :func:`write_isolating` bisects until each
refused record stands alone, writes every other record, and hands each refused one to a callback
that sets it aside: in the database's ``ledger_rejects`` table when it can, else in a file beside the
spool (:class:`SetAsideFile`). Nothing is dropped and nothing is retried for ever.

A set-aside row holds the record as ASCII JSON (the spool's encoding), the record's id and the
*class name* of the error: never the error's message, which can quote the offending data.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Generic, Protocol, TypeVar, runtime_checkable

from onshore.ports import StoreError
from onshore.store.codecs import Codec

log = logging.getLogger(__name__)

T = TypeVar("T")

# Bounds on what a set-aside row keeps, so a hostile 7 MB field cannot fill the table or the file.
MAX_KEY_CHARS = 256
MAX_PAYLOAD_CHARS = 64 * 1024
# Refused records remembered so that meeting one again (a replayed spool) neither counts nor logs
# it twice; storing it again would be harmless (idempotent), this only keeps the counter true.
RECENTLY_SET_ASIDE = 10_000
_NOWHERE = "nowhere"


class RecordsRefused(StoreError):
    """The database refused the data itself; the same records will fail again on every retry.

    ``reason`` is the class name of the underlying error (e.g. ``DataError``,
    ``NotNullViolation``, ``UnicodeEncodeError``): safe to log and store, unlike its message.
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def is_refusal(exc: BaseException) -> bool:
    """True when retrying the same records cannot help (see the module docstring)."""
    if isinstance(exc, RecordsRefused):
        return True
    # Any other StoreError is an outage. Anything that is not a StoreError is a writer (or driver)
    # failing on the values themselves: treating it as an outage would retry it for ever.
    return not isinstance(exc, StoreError) and isinstance(exc, Exception)


def reason_of(exc: BaseException) -> str:
    return exc.reason if isinstance(exc, RecordsRefused) else type(exc).__name__


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record set aside: what it was (``payload``, ASCII JSON) and why (an error class name)."""

    kind: str
    key: str
    reason: str
    payload: str
    at: datetime


T_contra = TypeVar("T_contra", contravariant=True)


class BatchWriter(Protocol[T_contra]):
    """Where a buffered sink writes: the ledger's and the audit trail's SQL tables."""

    def write_batch(self, items: Sequence[T_contra], /) -> None:
        """All of ``items`` in one transaction, idempotently; ``StoreError`` when the database is
        unavailable, ``RecordsRefused`` when it refuses the data itself."""
        ...


@runtime_checkable
class RejectWriter(Protocol):
    def set_aside(self, rejects: Sequence[Rejected], /) -> None:
        """Store ``rejects`` durably; idempotent, so setting a record aside twice keeps one row."""
        ...


def safe_key(key: str) -> str:
    """``key`` as printable ASCII, bounded: fit for a log line and a bounded column."""
    text = key if key.isascii() and key.isprintable() else ascii(key)[1:-1]
    return text[:MAX_KEY_CHARS]


def bounded_payload(line: bytes) -> str:
    """The encoded record as text, cut (and marked so) if it is absurdly long."""
    text = line.decode("ascii", errors="backslashreplace").rstrip("\n")
    if len(text) <= MAX_PAYLOAD_CHARS:
        return text
    return json.dumps({"truncated": True, "head": text[:MAX_PAYLOAD_CHARS]})


def write_isolating(
    batch: Sequence[T],
    write: Callable[[list[T]], None],
    on_refused: Callable[[T, BaseException], None],
) -> int:
    """Write ``batch`` through ``write``; isolate and hand over every record the database refuses.

    A refused batch is split in halves, recursively, so ``k`` bad records among ``n`` cost about
    ``2k·log2(n)`` extra writes; a batch with none costs exactly one. ``write`` must be all or
    nothing per call (one transaction), and idempotent.

    Returns:
        The number of records written.

    Raises:
        WriteInterrupted: a transient failure stopped the work; its ``remaining`` records (in
            order) were neither written nor set aside, and its ``__cause__`` is the failure.
    """
    pending: list[list[T]] = [list(batch)] if batch else []
    written = 0
    while pending:
        part = pending.pop()
        try:
            write(part)
        except Exception as exc:
            if not is_refusal(exc):
                remaining = part + [item for rest in reversed(pending) for item in rest]
                raise WriteInterrupted(remaining) from exc
            if len(part) == 1:
                on_refused(part[0], exc)
                continue
            middle = len(part) // 2
            pending.append(part[middle:])  # popped second
            pending.append(part[:middle])  # popped first: order is kept
            continue
        written += len(part)
    return written


class WriteInterrupted(Exception):
    """Raised by :func:`write_isolating` on a transient failure; see ``remaining``."""

    def __init__(self, remaining: Sequence[object]) -> None:
        super().__init__(f"{len(remaining)} records not written")
        self.remaining: list[object] = list(remaining)


class SetAsideFile:
    """The last resort: an append-only, fsync'd JSON-lines file beside the spool.

    Used when even the ``ledger_rejects`` insert fails. Processes sharing the directory append
    whole lines with one ``O_APPEND`` write each, so lines never interleave.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    @classmethod
    def beside(cls, spool_base: Path) -> SetAsideFile:
        return cls(spool_base.with_name(f"{spool_base.stem}.rejected{spool_base.suffix}"))

    def append(self, rejects: Sequence[Rejected]) -> None:
        """Raises ``OSError`` when the disk refuses too."""
        data = b"".join(
            json.dumps(
                {
                    "kind": r.kind,
                    "key": r.key,
                    "reason": r.reason,
                    "at": r.at.isoformat(),
                    "payload": r.payload,
                },
                separators=(",", ":"),
            ).encode("ascii")
            + b"\n"
            for r in rejects
        )
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)

    def read(self) -> list[dict[str, str]]:
        """Every set-aside entry (for operators and tests)."""
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_bytes().splitlines() if line.strip()]


class SetAside(Generic[T]):
    """Where a buffered sink's refused records go: ``rejects`` (the table), else ``file``.

    Args:
        codec: Encodes a record as the ASCII JSON payload that is kept.
        name: The sink's name, for log lines ("ledger", "audit").
        rejects: The ``ledger_rejects`` table, or None to use the file only.
        file: The last resort, beside the spool.
    """

    def __init__(self, codec: Codec[T], name: str, rejects: RejectWriter | None, file: SetAsideFile) -> None:
        self._codec = codec
        self._name = name
        self._rejects = rejects
        self.file = file
        self.count = 0  # records set aside (each once, as far as RECENTLY_SET_ASIDE remembers)
        self._recent: dict[str, None] = {}  # insertion-ordered: the oldest goes first

    def record(self, record: T, exc: BaseException) -> None:
        """Set ``record`` aside because of ``exc``; logs its id and the error's class, nothing else."""
        key = safe_key(self._codec.key(record))
        try:
            payload = bounded_payload(self._codec.encode(record))
        except Exception:  # the record cannot even be encoded: keep what can be said about it
            payload = json.dumps({"unencodable": type(record).__name__})
        if payload in self._recent:
            return  # a replay met it again (after an outage, or a write the guard also spooled)
        reason = reason_of(exc)
        self.count += 1
        where = self._store([Rejected(self._codec.kind, key, reason, payload, datetime.now(UTC))])
        log.error("%s row %s refused by the database (%s); set aside in %s", self._name, key, reason, where)
        if where != _NOWHERE:
            self._recent[payload] = None
            if len(self._recent) > RECENTLY_SET_ASIDE:
                del self._recent[next(iter(self._recent))]

    def unreadable_line(self, line: bytes) -> None:
        """Keep a spool line no codec can read (a torn last line after a crash), as escaped text."""
        payload = json.dumps({"unreadable_line": line.decode("utf-8", "backslashreplace")})
        reject = Rejected(
            self._codec.kind, "(unreadable spool line)", "UnreadableLine", payload, datetime.now(UTC)
        )
        self._store([reject])

    def _store(self, rejects: list[Rejected]) -> str:
        if self._rejects is not None:
            try:
                self._rejects.set_aside(rejects)
                return "the ledger_rejects table"
            except Exception as exc:
                log.warning("could not set rows aside in the database (%s); using a file", type(exc).__name__)
        try:
            self.file.append(rejects)
        except OSError:
            log.error(
                "LOST %d %s rows: neither the database nor the set-aside file took them",
                len(rejects),
                self._name,
            )
            return _NOWHERE
        return self.file.path.name
