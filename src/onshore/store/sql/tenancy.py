"""Organisations and API keys in SQL: the ``TenancyStore`` port on SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Row, func, or_, select

from onshore.domain.audit import AuditEntry
from onshore.domain.tenancy import ApiKey, Organisation
from onshore.store.sql.errors import translate_errors
from onshore.store.sql.idempotent import insert_ignoring_duplicates
from onshore.store.sql.schema import api_keys, audit_log, organisations
from onshore.store.sql.unit_of_work import (
    TenancyTransaction,
    key_from_row,
    new_org_id,
)

Clock = Callable[[], datetime]

__all__ = ["SqlTenancyStore", "TenancyTransaction", "new_org_id"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SqlTenancyStore:
    """``TenancyStore`` on SQLAlchemy.

    Every method opens its own short transaction, so the store is safe to share between threads
    (the gateway calls it through ``asyncio.to_thread``). Several changes and their audit entries
    can share one transaction through :meth:`unit_of_work`.

    Replicas learn about key changes by polling :meth:`keys_changed_since_seq`: every insert and
    revocation takes the next number of a database counter inside its transaction, and numbers
    become visible in increasing order (see ``TenancyTransaction.next_change_seq``), so no
    change is missed whatever the writers' clocks say. ``updated_at`` is still stamped from
    ``clock`` for people to read; nothing relies on it any more.

    Args:
        engine: From :func:`onshore.store.sql.engine.make_engine`, already migrated.
        clock: Returns the current UTC time; injected so tests need not sleep.
    """

    def __init__(self, engine: Engine, *, clock: Clock = _utcnow) -> None:
        self._engine = engine
        self._clock = clock
        self._audit_insert = insert_ignoring_duplicates(engine, audit_log)

    @contextmanager
    def unit_of_work(self, action: str = "changing organisations or keys") -> Iterator[TenancyTransaction]:
        """One transaction: commits when the block ends normally, rolls back on any exception.

        Raises:
            StoreError: the database failed (``action`` names what was being done); nothing of
                the block is stored. ``AlreadyExists`` passes through as it is.
        """
        with translate_errors(action), self._engine.begin() as conn:
            yield TenancyTransaction(conn, self._clock, self._audit_insert)

    # --- organisations --------------------------------------------------------------------------

    def create_org(self, name: str) -> Organisation:
        """Raises ``AlreadyExists`` when the name is taken."""
        with self.unit_of_work("creating an organisation") as uow:
            return uow.create_org(name)

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

    def add_key(self, key: ApiKey, audit: AuditEntry | None = None) -> ApiKey:
        """Insert ``key`` (and ``audit``, in the same transaction); ``updated_at`` is the store's clock.

        Raises:
            AlreadyExists: the id or the digest is already stored.
            StoreError: the organisation does not exist, or the database failed.
        """
        with self.unit_of_work("adding a key") as uow:
            stored = uow.add_key(key)
            if audit is not None:
                uow.append_audit(audit)
        return stored

    def list_keys(self, org_id: str | None = None) -> list[ApiKey]:
        query = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
        if org_id is not None:
            query = query.where(api_keys.c.org_id == org_id)
        with translate_errors("listing keys"), self._engine.connect() as conn:
            return [key_from_row(row) for row in conn.execute(query)]

    def get_key(self, key_id: str) -> ApiKey | None:
        with translate_errors("reading a key"), self._engine.connect() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
        return None if row is None else key_from_row(row)

    def get_key_by_digest(self, digest: str) -> ApiKey | None:
        with translate_errors("reading a key"), self._engine.connect() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.digest == digest)).first()
        return None if row is None else key_from_row(row)

    def revoke_key(self, key_id: str, at: datetime, audit: AuditEntry | None = None) -> ApiKey | None:
        """Mark the key revoked at ``at``; None when no such key.

        With ``audit``, the entry is appended in the same transaction when the key exists: if
        either fails, neither is stored. Revoking twice keeps the first ``revoked_at`` (the moment
        that matters for an audit); the second call's entry records that it was asked.
        """
        with self.unit_of_work("revoking a key") as uow:
            key = uow.revoke_key(key_id, at)
            if key is not None and audit is not None:
                uow.append_audit(audit)
        return key

    def rehash_key(
        self, key_id: str, old_digest: str, new_digest: str, secret_id: str, audit: AuditEntry | None = None
    ) -> ApiKey | None:
        """Compare-and-set the key's digest (see ``TenancyTransaction.rehash_key``), ``audit`` with it."""
        with self.unit_of_work("re-hashing a key") as uow:
            key = uow.rehash_key(key_id, old_digest, new_digest, secret_id)
            if key is not None and audit is not None:
                uow.append_audit(audit)
        return key

    def key_generations(self) -> dict[str | None, int]:
        """Keys neither revoked nor expired, counted by the secret generation of their digest."""
        now = self._clock()
        query = (
            select(api_keys.c.secret_id, func.count())
            .where(api_keys.c.revoked_at.is_(None))
            .where(or_(api_keys.c.expires_at.is_(None), api_keys.c.expires_at > now))
            .group_by(api_keys.c.secret_id)
        )
        with translate_errors("counting keys"), self._engine.connect() as conn:
            return {row[0]: int(row[1]) for row in conn.execute(query)}

    def keys_updated_since(self, since: datetime | None) -> list[ApiKey]:
        """Keys whose ``updated_at`` is at or after ``since`` (for operators; no longer in the port).

        ``updated_at`` comes from the writer's clock, so a poller using this misses changes made
        by a host whose clock is behind: use :meth:`keys_changed_since_seq`.
        """
        query = select(api_keys).order_by(api_keys.c.updated_at, api_keys.c.id)
        if since is not None:
            query = query.where(api_keys.c.updated_at >= since)
        with translate_errors("reading changed keys"), self._engine.connect() as conn:
            return [key_from_row(row) for row in conn.execute(query)]

    def keys_changed_since_seq(self, seq: int | None) -> tuple[list[ApiKey], int]:
        """Keys changed after change number ``seq`` (every key when None), and the newest number.

        Pass the returned number back on the next call. Numbers are taken from a database
        counter inside each writing transaction and become visible in order, so polling this
        way misses no change, however skewed the clocks of the hosts that made them.
        """
        query = select(api_keys).order_by(api_keys.c.change_seq, api_keys.c.id)
        if seq is not None:
            query = query.where(api_keys.c.change_seq > seq)
        with translate_errors("reading changed keys"), self._engine.connect() as conn:
            rows = conn.execute(query).all()
        newest = max((int(row.change_seq) for row in rows), default=seq or 0)
        return [key_from_row(row) for row in rows], newest


def _org(row: Row[Any]) -> Organisation:
    return Organisation(id=row.id, name=row.name, created_at=row.created_at)
