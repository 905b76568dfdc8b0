"""The audit trail in SQL: append-only, idempotent on the entry's id."""

from __future__ import annotations

import builtins
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, select

from onshore.domain.audit import AuditEntry
from onshore.store.setaside import RecordsRefused, Rejected
from onshore.store.sql.errors import translate_errors, translate_write_errors
from onshore.store.sql.idempotent import insert_ignoring_duplicates
from onshore.store.sql.rejects import SqlRejectStore
from onshore.store.sql.schema import audit_log

DEFAULT_LIST_LIMIT = 100


def append_entries(conn: Connection, insert: Any, entries: Sequence[AuditEntry]) -> None:
    """Insert ``entries`` on ``conn``, inside the caller's transaction (the unit of work's way)."""
    if entries:
        unique = {entry.id: _values(entry) for entry in reversed(entries)}  # the first of an id wins
        conn.execute(insert, list(reversed(unique.values())))


class SqlAuditLog:
    """The audit log on SQLAlchemy (``AuditReader``): ``append_many``, ``list`` and ``entries``.

    Nothing updates or deletes an entry.

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
            return [_entry(row) for row in conn.execute(query)]


def _values(entry: AuditEntry) -> dict[str, Any]:
    try:
        # Checked here because drivers differ: SQLite's JSON type fails inside SQLAlchemy, psycopg
        # only when it sends, with a bare TypeError. Either way the entry can never be stored.
        json.dumps(dict(entry.detail))
    except (TypeError, ValueError) as exc:
        raise RecordsRefused("an audit entry's detail is not plain JSON", type(exc).__name__) from exc
    return {
        "id": entry.id,
        "at": entry.at,
        "actor": entry.actor,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "org_id": entry.org_id,
        "detail": dict(entry.detail),
    }


def _entry(row: Row[Any]) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        target_type=row.target_type,
        target_id=row.target_id,
        org_id=row.org_id,
        detail=dict(row.detail or {}),
    )
