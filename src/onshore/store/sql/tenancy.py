"""Organisations and API keys in SQL: the ``TenancyStore`` port on SQLAlchemy Core."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Row, select, update
from sqlalchemy.exc import IntegrityError

from onshore.domain.tenancy import ApiKey, Organisation
from onshore.ports import AlreadyExists, StoreError
from onshore.store.sql.errors import is_unique_violation, translate_errors
from onshore.store.sql.schema import api_keys, organisations

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def new_org_id() -> str:
    """An opaque organisation id; random so ids reveal neither order nor count of partners."""
    return "org_" + secrets.token_hex(8)


class SqlTenancyStore:
    """``TenancyStore`` on SQLAlchemy.

    Every method opens its own short transaction, so the store is safe to share between threads
    (the gateway calls it through ``asyncio.to_thread``). ``updated_at`` is stamped from ``clock``
    on insert and revoke; pollers re-read with an overlap, so modest clock skew between replicas
    only means a row is applied twice.

    Args:
        engine: From :func:`onshore.store.sql.engine.make_engine`, already migrated.
        clock: Returns the current UTC time; injected so tests need not sleep.
    """

    def __init__(self, engine: Engine, *, clock: Clock = _utcnow) -> None:
        self._engine = engine
        self._clock = clock

    # --- organisations --------------------------------------------------------------------------

    def create_org(self, name: str) -> Organisation:
        org = Organisation(id=new_org_id(), name=name, created_at=self._clock())
        try:
            with translate_errors("creating an organisation"), self._engine.begin() as conn:
                conn.execute(
                    organisations.insert().values(id=org.id, name=org.name, created_at=org.created_at)
                )
        except StoreError as exc:
            if isinstance(exc.__cause__, IntegrityError) and is_unique_violation(exc.__cause__):
                raise AlreadyExists(f"an organisation named {name!r} already exists") from exc.__cause__
            raise
        return org

    def list_orgs(self) -> list[Organisation]:
        query = select(organisations).order_by(organisations.c.created_at, organisations.c.id)
        with translate_errors("listing organisations"), self._engine.connect() as conn:
            return [_org(row) for row in conn.execute(query)]

    def get_org(self, org_id: str) -> Organisation | None:
        return self._one_org(organisations.c.id == org_id)

    def get_org_by_name(self, name: str) -> Organisation | None:
        return self._one_org(organisations.c.name == name)

    def _one_org(self, condition: Any) -> Organisation | None:
        with translate_errors("reading an organisation"), self._engine.connect() as conn:
            row = conn.execute(select(organisations).where(condition)).first()
        return None if row is None else _org(row)

    # --- keys -----------------------------------------------------------------------------------

    def add_key(self, key: ApiKey) -> ApiKey:
        """Insert ``key``; its ``updated_at`` is replaced by the store's clock.

        Raises:
            AlreadyExists: the id or the digest is already stored.
            StoreError: the organisation does not exist, or the database failed.
        """
        stored = dataclasses.replace(key, updated_at=self._clock())
        try:
            with translate_errors("adding a key"), self._engine.begin() as conn:
                conn.execute(api_keys.insert().values(**_key_values(stored)))
        except StoreError as exc:
            cause = exc.__cause__
            if isinstance(cause, IntegrityError):
                if is_unique_violation(cause):
                    raise AlreadyExists("a key with this id or digest already exists") from cause
                raise StoreError("adding a key failed: the organisation does not exist") from cause
            raise
        return stored

    def list_keys(self, org_id: str | None = None) -> list[ApiKey]:
        query = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
        if org_id is not None:
            query = query.where(api_keys.c.org_id == org_id)
        with translate_errors("listing keys"), self._engine.connect() as conn:
            return [_key(row) for row in conn.execute(query)]

    def get_key(self, key_id: str) -> ApiKey | None:
        with translate_errors("reading a key"), self._engine.connect() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
        return None if row is None else _key(row)

    def get_key_by_digest(self, digest: str) -> ApiKey | None:
        with translate_errors("reading a key"), self._engine.connect() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.digest == digest)).first()
        return None if row is None else _key(row)

    def revoke_key(self, key_id: str, at: datetime) -> ApiKey | None:
        """Mark the key revoked at ``at``; None when no such key.

        Revoking twice keeps the first ``revoked_at`` (the moment that matters for an audit) and
        leaves ``updated_at`` alone, so replicas are not told about a change that did not happen.
        """
        with translate_errors("revoking a key"), self._engine.begin() as conn:
            conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=at, updated_at=self._clock())
            )
            row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
        return None if row is None else _key(row)

    def keys_updated_since(self, since: datetime | None) -> list[ApiKey]:
        query = select(api_keys).order_by(api_keys.c.updated_at, api_keys.c.id)
        if since is not None:
            query = query.where(api_keys.c.updated_at >= since)
        with translate_errors("reading changed keys"), self._engine.connect() as conn:
            return [_key(row) for row in conn.execute(query)]


def _org(row: Row[Any]) -> Organisation:
    return Organisation(id=row.id, name=row.name, created_at=row.created_at)


def _key_values(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "org_id": key.org_id,
        "name": key.name,
        "digest": key.digest,
        "prefix": key.prefix,
        "models": None if key.models is None else list(key.models),
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "revoked_at": key.revoked_at,
        "updated_at": key.updated_at,
    }


def _key(row: Row[Any]) -> ApiKey:
    return ApiKey(
        id=row.id,
        org_id=row.org_id,
        name=row.name,
        digest=row.digest,
        prefix=row.prefix,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        models=None if row.models is None else tuple(row.models),
        updated_at=row.updated_at,
    )
