"""Tenancy changes and their audit entries in one transaction: all of them commit, or none.

``SqlTenancyStore.unit_of_work()`` opens the transaction and hands out a ``TenancyTransaction``;
leaving the ``with`` block normally commits, an exception rolls everything back. So "revoke a key
and append its audit entry" can never leave a revocation without its entry, or the reverse.

Every change to a key also takes the next number of the ``api_keys`` change sequence (the
``change_counters`` row), which is what replicas poll instead of anyone's clock.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, select, update
from sqlalchemy.exc import IntegrityError

from onshore.domain.audit import AuditEntry
from onshore.domain.limits import Scope
from onshore.domain.policy import SubjectPolicy
from onshore.domain.tenancy import ApiKey, Organisation
from onshore.ports import AlreadyExists, StoreError
from onshore.store.sql.audit import append_entries
from onshore.store.sql.errors import is_unique_violation
from onshore.store.sql.policies import next_limits_version, write_policy
from onshore.store.sql.schema import api_keys, organisations
from onshore.store.sql.sequences import take_next

Clock = Callable[[], datetime]
KEYS_SEQUENCE = "api_keys"


def new_org_id() -> str:
    """An opaque organisation id; random so ids reveal neither order nor count of partners."""
    return "org_" + secrets.token_hex(8)


class TenancyTransaction:
    """Tenancy operations on one open transaction. Build it with ``SqlTenancyStore.unit_of_work``."""

    def __init__(self, conn: Connection, clock: Clock, audit_insert: Any) -> None:
        self._conn = conn
        self._clock = clock
        self._audit_insert = audit_insert

    def create_org(self, name: str) -> Organisation:
        """Raises ``AlreadyExists`` when the name is taken (the transaction is then unusable)."""
        org = Organisation(id=new_org_id(), name=name, created_at=self._clock())
        try:
            self._conn.execute(
                organisations.insert().values(id=org.id, name=org.name, created_at=org.created_at)
            )
        except IntegrityError as exc:
            if is_unique_violation(exc):
                raise AlreadyExists(f"an organisation named {name!r} already exists") from exc
            raise
        return org

    def add_key(self, key: ApiKey) -> ApiKey:
        """Insert ``key``; its ``updated_at`` is replaced by the store's clock.

        Raises:
            AlreadyExists: the id or the digest is already stored.
            StoreError: the organisation does not exist.
        """
        seq = self.next_change_seq()
        stored = dataclasses.replace(key, updated_at=self._clock())
        try:
            self._conn.execute(api_keys.insert().values(**key_values(stored), change_seq=seq))
        except IntegrityError as exc:
            if is_unique_violation(exc):
                raise AlreadyExists("a key with this id or digest already exists") from exc
            raise StoreError("adding a key failed: the organisation does not exist") from exc
        return stored

    def revoke_key(self, key_id: str, at: datetime) -> ApiKey | None:
        """Mark the key revoked at ``at``; None when no such key.

        Revoking twice keeps the first ``revoked_at`` (the moment that matters for an audit) and
        changes nothing else, so replicas are not told about a change that did not happen.
        """
        seq = self.next_change_seq()
        self._conn.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=at, updated_at=self._clock(), change_seq=seq)
        )
        row = self._conn.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
        return None if row is None else key_from_row(row)

    def rehash_key(self, key_id: str, old_digest: str, new_digest: str, secret_id: str) -> ApiKey | None:
        """Replace the key's digest if it is still ``old_digest`` (None: already done, or no such
        key). With ``old_digest == new_digest`` it only records ``secret_id`` (a key made before
        the generation was recorded)."""
        seq = self.next_change_seq()
        condition = [api_keys.c.id == key_id, api_keys.c.digest == old_digest]
        if old_digest == new_digest:
            condition.append(api_keys.c.secret_id.is_(None))
        done = self._conn.execute(
            update(api_keys)
            .where(*condition)
            .values(digest=new_digest, secret_id=secret_id, updated_at=self._clock(), change_seq=seq)
        )
        if done.rowcount == 0:
            return None
        row = self._conn.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
        return None if row is None else key_from_row(row)

    def append_audit(self, *entries: AuditEntry) -> None:
        """Append ``entries`` in this transaction (idempotent on their ids)."""
        append_entries(self._conn, self._audit_insert, entries)

    def set_policy(self, scope: Scope, subject_id: str, policy: SubjectPolicy) -> None:
        """Write a new organisation's or key's policy (its jurisdictions at creation) in this
        transaction; it takes the limits change number, so replicas reload policies at once."""
        if policy.empty:
            return
        next_limits_version(self._conn)
        write_policy(self._conn, scope, subject_id, policy, self._clock())

    def next_change_seq(self) -> int:
        """The next number of the key change sequence, held (row-locked) until this commits.

        The row lock makes every other key writer wait for this transaction to end, so numbers
        become visible in increasing order: a poller that has seen N has seen everything below N.
        A PostgreSQL SEQUENCE would not do: ``nextval`` hands out 10 and 11 to two transactions
        that may commit 11 first, and a poller reading "after 11" would then never see 10.
        Key changes are rare admin actions, so queueing them costs nothing that matters.
        """
        return take_next(self._conn, KEYS_SEQUENCE, seed=_above_every_key)


def _above_every_key(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(api_keys.c.change_seq), 0))).scalar_one())


def key_values(key: ApiKey) -> dict[str, Any]:
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
        "secret_id": key.secret_id,
    }


def key_from_row(row: Row[Any]) -> ApiKey:
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
        secret_id=row.secret_id,
    )
