"""Records written off the hot path, never lost: the ledger's and the audit trail's sinks.

Both are :class:`onshore.store.sink.BufferedSink` instances, which work as follows.

``submit`` is what the gateway calls for every request, on the event loop: one ``deque.append``,
no lock, no I/O. A daemon thread wakes every ``flush_interval_s`` (or as soon as a batch is full)
and writes batches of up to ``batch_size``. While the database is up, that is all: no disk I/O.

The loss bound is the flush interval, outage or not. When a write fails because the database is
unreachable, every row in memory goes to an fsync'd spool file at once (``onshore.store.spool``),
and while the outage lasts a guard thread moves newly submitted rows there every flush interval;
writing is retried every ``retry_interval_s``, and when it succeeds the spool is replayed and
removed. The same guard also spools rows whenever the writer has been stuck longer than a flush
interval (a write hanging on a silent network, a long replay), so a ``kill -9`` at any moment
loses at most the rows submitted within about one flush interval. ``close`` writes what it can and
spools the rest; the next ``start`` replays the spool first.

A record the database refuses (``onshore.store.setaside``) never blocks the others: its batch is
bisected, every other record is written, and the refused one is set aside durably, counted in
``rejected`` and logged with its id only.

A record may reach the database twice (a batch that timed out but committed, a crash between a
write and the spool's removal); writers are idempotent on the record's id, so it is stored once.
"""

from __future__ import annotations

from pathlib import Path

from onshore.domain.audit import AuditEntry
from onshore.domain.usage import UsageRecord
from onshore.ports import UsageWriter
from onshore.store.codecs import AUDIT_CODEC, USAGE_CODEC
from onshore.store.setaside import BatchWriter, RejectWriter
from onshore.store.sink import BufferedSink

__all__ = ["BatchWriter", "BufferedAuditSink", "BufferedSink", "BufferedUsageSink"]


class BufferedUsageSink(BufferedSink[UsageRecord]):
    """The ledger's sink: ``UsageRecord`` rows into ``SqlUsageStore``.

    Refused rows are set aside through ``rejects`` or, by default, through ``writer`` itself
    when it can (``SqlUsageStore.set_aside`` writes the ``ledger_rejects`` table).
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
        rejects: RejectWriter | None = None,
    ) -> None:
        super().__init__(
            writer,
            codec=USAGE_CODEC,
            spool_path=spool_path,
            name="ledger",
            rejects=rejects if rejects is not None else _rejects_of(writer),
            batch_size=batch_size,
            flush_interval_s=flush_interval_s,
            max_buffered=max_buffered,
            retry_interval_s=retry_interval_s,
        )


class BufferedAuditSink(BufferedSink[AuditEntry]):
    """The ``AuditSink`` port: entries into ``SqlAuditLog`` with the ledger's no-loss machinery.

    It has its own spool file (pass e.g. ``data_dir / "audit-spool.jsonl"``) and sets refused
    entries aside in the same ``ledger_rejects`` table, with kind "audit".
    """

    def __init__(
        self,
        writer: BatchWriter[AuditEntry],
        *,
        spool_path: Path,
        batch_size: int = 500,
        flush_interval_s: float = 0.5,
        retry_interval_s: float = 1.0,
        rejects: RejectWriter | None = None,
    ) -> None:
        super().__init__(
            writer,
            codec=AUDIT_CODEC,
            spool_path=spool_path,
            name="audit",
            rejects=rejects if rejects is not None else _rejects_of(writer),
            batch_size=batch_size,
            flush_interval_s=flush_interval_s,
            retry_interval_s=retry_interval_s,
        )

    def append(self, entry: AuditEntry) -> None:
        """Queue ``entry``: O(1), never blocks (``submit`` under the port's name)."""
        self.submit(entry)


def _rejects_of(writer: object) -> RejectWriter | None:
    return writer if isinstance(writer, RejectWriter) else None
