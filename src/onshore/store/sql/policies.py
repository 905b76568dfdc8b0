"""Jurisdictions and personal-data policies per organisation and key, in SQL: the ``PolicyStore`` port.

A policy change takes the next number of the ``limits`` change sequence, like a limit or a price:
replicas already poll that one number and reload the whole snapshot (limits, prices and policies)
when it moved, so a narrowed jurisdiction reaches every replica as fast as a lowered limit does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, delete, select, update

from onshore.domain.audit import AuditEntry
from onshore.domain.limits import Scope
from onshore.domain.policy import NO_POLICY, PiiMode, SubjectPolicy
from onshore.pii.entities import EntityType
from onshore.ports import PolicyUpdate
from onshore.store.sql.audit import append_entries
from onshore.store.sql.errors import translate_errors
from onshore.store.sql.idempotent import insert_ignoring_duplicates
from onshore.store.sql.schema import audit_log, policies
from onshore.store.sql.sequences import take_next

Clock = Callable[[], datetime]
LIMITS_SEQUENCE = "limits"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def next_limits_version(conn: Connection) -> int:
    """Take the next number of the limits sequence (see ``sequences``): replicas reload when it moves.

    A missing row starts again from 1: pollers reload whenever the number differs from theirs.
    """
    return take_next(conn, LIMITS_SEQUENCE)


def write_policy(
    conn: Connection, scope: Scope, subject_id: str, policy: SubjectPolicy, now: datetime
) -> None:
    """Store ``policy`` as the subject's whole policy (deleting the row when it is empty); the
    caller has taken the limits version in this transaction."""
    where = (policies.c.scope == scope.value, policies.c.subject_id == subject_id)
    if policy.empty:
        conn.execute(delete(policies).where(*where))
        return
    values = {**_values(policy), "updated_at": now}
    if conn.execute(update(policies).where(*where).values(**values)).rowcount == 0:
        conn.execute(policies.insert().values(scope=scope.value, subject_id=subject_id, **values))


def read_policy(conn: Connection, scope: Scope, subject_id: str) -> SubjectPolicy:
    query = select(policies).where(policies.c.scope == scope.value, policies.c.subject_id == subject_id)
    row = conn.execute(query).first()
    return NO_POLICY if row is None else policy_from_row(row)


def all_policies(conn: Connection) -> tuple[dict[str, SubjectPolicy], dict[str, SubjectPolicy]]:
    """Every stored policy: (organisation id -> policy, key id -> policy)."""
    orgs: dict[str, SubjectPolicy] = {}
    keys: dict[str, SubjectPolicy] = {}
    for row in conn.execute(select(policies)):
        target = orgs if row.scope == Scope.ORG.value else keys
        target[row.subject_id] = policy_from_row(row)
    return orgs, keys


class SqlPolicyStore:
    """``PolicyStore`` on SQLAlchemy; each method is one short transaction, safe across threads."""

    def __init__(self, engine: Engine, *, clock: Clock = _utcnow) -> None:
        self._engine = engine
        self._clock = clock
        self._audit_insert = insert_ignoring_duplicates(engine, audit_log)

    def get_policy(self, scope: Scope, subject_id: str) -> SubjectPolicy:
        with translate_errors("reading a policy"), self._engine.connect() as conn:
            return read_policy(conn, scope, subject_id)

    def update_policy(
        self,
        scope: Scope,
        subject_id: str,
        changes: Mapping[str, object],
        audit_for: Callable[[SubjectPolicy, SubjectPolicy], AuditEntry | None],
        *,
        bound_by: str | None = None,
        check: Callable[[SubjectPolicy, SubjectPolicy], None] | None = None,
    ) -> PolicyUpdate:
        """Merge ``changes`` and write them with their audit entry, atomically (see the port)."""
        with translate_errors("changing a policy"), self._engine.connect() as conn, conn.begin() as tx:
            next_limits_version(conn)  # first: queues every other writer behind this transaction
            before = read_policy(conn, scope, subject_id)
            org = None if bound_by is None else read_policy(conn, Scope.ORG, bound_by)
            after = before.with_changes(changes)
            if check is not None:
                check(NO_POLICY if org is None else org, after)
            if after == before:
                tx.rollback()  # nothing changed: no number taken, nothing for replicas to reload
                return PolicyUpdate(before, after, org)
            write_policy(conn, scope, subject_id, after, self._clock())
            entry = audit_for(before, after)
            if entry is not None:
                append_entries(conn, self._audit_insert, [entry])
        return PolicyUpdate(before, after, org)


def _values(policy: SubjectPolicy) -> dict[str, Any]:
    return {
        "jurisdictions": None if policy.jurisdictions is None else list(policy.jurisdictions),
        "pii_mode": None if policy.pii_mode is None else policy.pii_mode.value,
        "pii_types": None if policy.pii_types is None else [t.value for t in policy.pii_types],
        "pii_restore": policy.pii_restore,
        "pii_redact_output": policy.pii_redact_output,
    }


def policy_from_row(row: Row[Any]) -> SubjectPolicy:
    # Values this release does not know (written by a newer one while they roll) are read as
    # "not set" for modes and dropped for types, so loading the snapshot never fails on them.
    mode = row.pii_mode
    types = None
    if row.pii_types is not None:
        types = tuple(EntityType(t) for t in row.pii_types if t in EntityType._value2member_map_)
    return SubjectPolicy(
        jurisdictions=None if row.jurisdictions is None else tuple(row.jurisdictions),
        pii_mode=PiiMode(mode) if mode in PiiMode._value2member_map_ else None,
        pii_types=types,
        pii_restore=row.pii_restore,
        pii_redact_output=row.pii_redact_output,
    )
