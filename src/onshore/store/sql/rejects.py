"""The ``ledger_rejects`` table: records the database refused, set aside (``onshore.store.setaside``)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from onshore.store.setaside import MAX_KEY_CHARS, Rejected
from onshore.store.sql.errors import translate_errors
from onshore.store.sql.idempotent import insert_ignoring_duplicates
from onshore.store.sql.schema import ledger_rejects


def reject_id(reject: Rejected) -> str:
    """The same record set aside twice (a replayed spool) gets the same id, so one row."""
    return hashlib.sha256(f"{reject.kind}\n{reject.payload}".encode()).hexdigest()


class SqlRejectStore:
    """``RejectWriter`` on SQLAlchemy: what the buffered sinks set aside.

    Args:
        engine: From :func:`onshore.store.sql.engine.make_engine`, already migrated.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._insert = insert_ignoring_duplicates(engine, ledger_rejects)

    def set_aside(self, rejects: Sequence[Rejected], /) -> None:
        """Store ``rejects`` (ASCII payloads, so always storable); idempotent.

        Raises:
            StoreError: the database is unavailable (the caller falls back to a file).
        """
        if not rejects:
            return
        values = [_values(r) for r in rejects]
        with translate_errors("setting records aside"), self._engine.begin() as conn:
            conn.execute(self._insert, values)

    def list_rejects(
        self, kind: str | None = None, since: datetime | None = None, limit: int = 100
    ) -> list[Rejected]:
        """Set-aside records, oldest first."""
        t = ledger_rejects.c
        query = select(ledger_rejects).order_by(t.rejected_at, t.id).limit(limit)
        if kind is not None:
            query = query.where(t.kind == kind)
        if since is not None:
            query = query.where(t.rejected_at >= since)
        with translate_errors("reading set-aside records"), self._engine.connect() as conn:
            return [
                Rejected(
                    kind=row.kind,
                    key=row.record_key,
                    reason=row.reason,
                    payload=row.payload,
                    at=row.rejected_at,
                )
                for row in conn.execute(query)
            ]


def _values(reject: Rejected) -> dict[str, Any]:
    return {
        "id": reject_id(reject),
        "kind": reject.kind[:32],
        "record_key": reject.key[:MAX_KEY_CHARS],
        "reason": reject.reason[:128],
        "rejected_at": reject.at,
        "payload": reject.payload,
    }
