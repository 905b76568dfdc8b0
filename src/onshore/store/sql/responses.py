"""Stored Responses API answers in SQL: the ``ResponseStore`` port.

Every read and delete names the organisation in its ``WHERE``: another organisation's response is
indistinguishable from one that never existed. Expired rows are filtered on read and removed by
``purge`` in bounded batches (one short transaction each, so a large backlog never holds locks long).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import IntegrityError

from onshore.ports import StoredResponse
from onshore.store.sql.errors import is_unique_violation, translate_errors
from onshore.store.sql.schema import responses

# Built once: ``insert(responses).values(row)`` per call cost 0.46-0.50 ms of CPU a save against
# 0.26-0.28 ms with the row passed as parameters (1,000 saves on SQLite, two rounds alternating).
_INSERT = insert(responses)


class SqlResponseStore:
    """``ResponseStore`` on SQLAlchemy; safe across threads.

    Args:
        engine: From :func:`onshore.store.sql.engine.make_engine`, already migrated.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def save(self, response: StoredResponse) -> None:
        row = {
            "id": response.id,
            "org_id": response.org_id,
            "model": response.model,
            "created_at": response.created_at,
            "expires_at": response.expires_at,
            "body": response.body,
            "input_items": response.input_items,
        }
        with translate_errors("storing a response"):
            try:
                with self._engine.begin() as conn:
                    conn.execute(_INSERT, row)
            except IntegrityError as exc:
                if not is_unique_violation(exc):
                    raise
                # Saved already: ids are random, so only a retry of the same save gets here.

    def get(self, org_id: str, response_id: str, now: datetime) -> StoredResponse | None:
        query = select(responses).where(
            responses.c.id == response_id, responses.c.org_id == org_id, responses.c.expires_at > now
        )
        with translate_errors("reading a response"), self._engine.connect() as conn:
            row = conn.execute(query).one_or_none()
        if row is None:
            return None
        return StoredResponse(
            id=row.id,
            org_id=row.org_id,
            created_at=row.created_at,
            expires_at=row.expires_at,
            model=row.model,
            body=row.body,
            input_items=row.input_items,
        )

    def delete(self, org_id: str, response_id: str, now: datetime) -> bool:
        query = delete(responses).where(
            responses.c.id == response_id, responses.c.org_id == org_id, responses.c.expires_at > now
        )
        with translate_errors("deleting a response"), self._engine.begin() as conn:
            return conn.execute(query).rowcount > 0

    def purge(self, now: datetime, limit: int = 1000) -> int:
        expired = select(responses.c.id).where(responses.c.expires_at <= now).limit(limit)
        with translate_errors("purging responses"), self._engine.begin() as conn:
            ids = list(conn.execute(expired).scalars())
            if not ids:
                return 0
            conn.execute(delete(responses).where(responses.c.id.in_(ids)))
        return len(ids)
