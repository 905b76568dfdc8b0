"""The audit trail in SQL: append-only, idempotent on the entry's id, hash-chained
(``store/sql/audit_chain.py``), with signed checkpoints beside it."""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from onshore.domain.audit import AuditEntry
from onshore.domain.audit_chain import Checkpoint
from onshore.store.setaside import Rejected
from onshore.store.sql.audit_chain import (
    append_chained,
    checkpoint_from_row,
    checkpoint_values,
    entry_from_row,
    normalised,
)
from onshore.store.sql.errors import translate_errors, translate_write_errors
from onshore.store.sql.idempotent import insert_ignoring_duplicates
from onshore.store.sql.rejects import SqlRejectStore
from onshore.store.sql.schema import audit_checkpoints, audit_log

DEFAULT_LIST_LIMIT = 100
# Rows fetched per round trip while walking the chain (a server-side cursor on PostgreSQL), so a
# walk over millions of entries holds a few thousand in memory at a time.
_WALK_BATCH = 2000


def append_entries(conn: Connection, insert: Any, entries: Sequence[AuditEntry]) -> None:
    """Chain and insert ``entries`` on ``conn``, inside the caller's transaction (the unit of
    work's way). Every audit write goes through here: see ``audit_chain.append_chained``.

    ``insert`` is an insert of ``audit_log`` rows that skips stored ids
    (``insert_ignoring_duplicates``); ids are also checked under the chain lock first.

    Raises:
        RecordsRefused: an entry's detail is not plain JSON (checked before anything is written).
    """
    if entries:
        unique = {entry.id: entry for entry in reversed(entries)}  # the first of an id wins
        append_chained(conn, insert, [normalised(entry) for entry in reversed(unique.values())])


class SqlAuditLog:
    """The audit log on SQLAlchemy (``AuditReader`` and ``AuditTrail``): ``append_many``, ``list``,
    ``entries``, and for audits ``walk``, ``unchained``, ``head`` and the signed checkpoints.

    Nothing updates or deletes an entry (but the chaining of one written without a seq).

    It is also a ``BatchWriter`` (``write_batch``) and a ``RejectWriter`` (``set_aside``), so a
    ``BufferedAuditSink`` can write through it with the ledger's no-loss machinery. An entry that
    must commit together with the change it describes goes through
    ``SqlTenancyStore.unit_of_work`` instead.

    Args:
        engine: From :func:`onshore.store.sql.engine.make_engine`, already migrated.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._insert = insert_ignoring_duplicates(engine, audit_log)
        self._insert_checkpoint = insert_ignoring_duplicates(engine, audit_checkpoints)
        self._rejects = SqlRejectStore(engine)

    def append_many(self, entries: Sequence[AuditEntry]) -> None:
        """Append ``entries`` in one transaction; an id already stored is skipped (idempotent).

        Raises:
            RecordsRefused: the database refused the data of some entry; nothing was written.
            StoreError: the database is unavailable; nothing was written.
        """
        if not entries:
            return
        with translate_write_errors("appending audit entries"), self._engine.begin() as conn:
            append_entries(conn, self._insert, entries)

    def entries(
        self, limit: int = DEFAULT_LIST_LIMIT, org_id: str | None = None
    ) -> builtins.list[AuditEntry]:
        """The ``AuditReader`` port: the newest entries first."""
        return self.list(org_id=org_id, limit=limit)

    def write_batch(self, entries: Sequence[AuditEntry], /) -> None:
        self.append_many(entries)

    def set_aside(self, rejects: Sequence[Rejected], /) -> None:
        self._rejects.set_aside(rejects)

    def list(
        self,
        *,
        org_id: str | None = None,
        target_type: str | None = None,
        target_id: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
    ) -> builtins.list[AuditEntry]:
        """Entries matching every filter given, newest first (ties by id); ``since <= at < until``."""
        t = audit_log.c
        query = select(audit_log).order_by(t.at.desc(), t.id.desc()).limit(limit)
        for column, value in (
            (t.org_id, org_id),
            (t.target_type, target_type),
            (t.target_id, target_id),
            (t.action, action),
        ):
            if value is not None:
                query = query.where(column == value)
        if since is not None:
            query = query.where(t.at >= since)
        if until is not None:
            query = query.where(t.at < until)
        with translate_errors("reading the audit log"), self._engine.connect() as conn:
            return [entry_from_row(row) for row in conn.execute(query)]

    # --- the AuditTrail port: the chain, for audits ---------------------------------------------

    def find(
        self, *, org_id: str | None = None, since: datetime | None = None, limit: int = DEFAULT_LIST_LIMIT
    ) -> builtins.list[AuditEntry]:
        """Entries of ``org_id`` (all when None) at or after ``since``, newest first."""
        return self.list(org_id=org_id, since=since, limit=limit)

    def walk(self, *, since: datetime | None = None, until: datetime | None = None) -> Iterator[AuditEntry]:
        """Every chained entry in seq order (``since <= at < until`` when given), streamed.

        The rows come through one read on one connection (a server-side cursor on PostgreSQL), so
        memory stays flat however long the chain; stop iterating (or close the iterator) to end it.
        """
        t = audit_log.c
        query = select(audit_log).where(t.seq.is_not(None)).order_by(t.seq)
        if since is not None:
            query = query.where(t.at >= since)
        if until is not None:
            query = query.where(t.at < until)
        with translate_errors("reading the audit chain"), self._engine.connect() as conn:
            rows = conn.execution_options(stream_results=True, yield_per=_WALK_BATCH).execute(query)
            for row in rows:
                yield entry_from_row(row)

    def unchained(self, limit: int = 10) -> builtins.list[AuditEntry]:
        """Entries without a seq (inserted outside the chain), oldest first."""
        t = audit_log.c
        query = select(audit_log).where(t.seq.is_(None)).order_by(t.at, t.id).limit(limit)
        with translate_errors("reading the audit chain"), self._engine.connect() as conn:
            return [entry_from_row(row) for row in conn.execute(query)]

    def head(self) -> AuditEntry | None:
        """The entry with the highest seq; None while the chain is empty."""
        t = audit_log.c
        query = select(audit_log).where(t.seq.is_not(None)).order_by(t.seq.desc()).limit(1)
        with translate_errors("reading the audit chain"), self._engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else entry_from_row(row)

    def checkpoints(self) -> builtins.list[Checkpoint]:
        """Every stored checkpoint, by seq."""
        query = select(audit_checkpoints).order_by(audit_checkpoints.c.seq)
        with translate_errors("reading audit checkpoints"), self._engine.connect() as conn:
            return [checkpoint_from_row(row) for row in conn.execute(query)]

    def add_checkpoint(self, checkpoint: Checkpoint) -> bool:
        """Store ``checkpoint``; False when one for its seq is already stored (kept as it was)."""
        with translate_errors("storing an audit checkpoint"), self._engine.begin() as conn:
            result = conn.execute(self._insert_checkpoint.values(**checkpoint_values(checkpoint)))
        return result.rowcount == 1
