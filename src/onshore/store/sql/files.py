"""Who owns which file: the ``FileIndex`` port on SQL (the bytes are in the ``FileStore``)."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, delete, insert, select

from onshore.domain.batches import StoredFile
from onshore.store.sql.errors import translate_errors
from onshore.store.sql.schema_batches import files


class SqlFileIndex:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, file: StoredFile) -> None:
        with translate_errors("recording a file"), self._engine.begin() as conn:
            conn.execute(
                insert(files).values(
                    id=file.id,
                    org_id=file.org_id,
                    purpose=file.purpose,
                    filename=file.filename,
                    bytes=file.bytes,
                    created_at=file.created_at,
                    expires_at=file.expires_at,
                )
            )

    def get(self, org_id: str, file_id: str) -> StoredFile | None:
        with translate_errors("reading a file"), self._engine.connect() as conn:
            row = conn.execute(select(files).where(files.c.org_id == org_id, files.c.id == file_id)).first()
        return None if row is None else _file(row)

    def list(
        self, org_id: str, *, purpose: str | None, after: str | None, limit: int, newest_first: bool
    ) -> builtins.list[StoredFile]:
        query = select(files).where(files.c.org_id == org_id)
        if purpose is not None:
            query = query.where(files.c.purpose == purpose)
        order = (
            (files.c.created_at.desc(), files.c.id.desc())
            if newest_first
            else (
                files.c.created_at,
                files.c.id,
            )
        )
        with translate_errors("listing files"), self._engine.connect() as conn:
            if after is not None:
                cursor = conn.execute(
                    select(files.c.created_at, files.c.id).where(
                        files.c.org_id == org_id, files.c.id == after
                    )
                ).first()
                if cursor is not None:
                    at, ident = cursor
                    if newest_first:
                        query = query.where(
                            (files.c.created_at < at) | ((files.c.created_at == at) & (files.c.id < ident))
                        )
                    else:
                        query = query.where(
                            (files.c.created_at > at) | ((files.c.created_at == at) & (files.c.id > ident))
                        )
            rows = conn.execute(query.order_by(*order).limit(limit)).all()
        return [_file(row) for row in rows]

    def remove(self, org_id: str, file_id: str) -> bool:
        with translate_errors("deleting a file"), self._engine.begin() as conn:
            result = conn.execute(delete(files).where(files.c.org_id == org_id, files.c.id == file_id))
        return result.rowcount > 0

    def expired(self, now: datetime, limit: int) -> builtins.list[StoredFile]:
        with translate_errors("reading expired files"), self._engine.connect() as conn:
            rows = conn.execute(
                select(files)
                .where(files.c.expires_at.is_not(None), files.c.expires_at <= now)
                .order_by(files.c.expires_at)
                .limit(limit)
            ).all()
        return [_file(row) for row in rows]


def _file(row: Row[Any]) -> StoredFile:
    return StoredFile(
        id=row.id,
        org_id=row.org_id,
        purpose=row.purpose,
        filename=row.filename,
        bytes=row.bytes,
        created_at=row.created_at,
        expires_at=row.expires_at,
    )
