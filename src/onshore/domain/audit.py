"""The audit trail: who changed what, when. Entries are appended, never changed or removed."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

AUDIT_ID_PREFIX = "aud_"


def new_audit_id() -> str:
    """A random entry id: unguessable and collision-free, so appending it twice is idempotent."""
    return AUDIT_ID_PREFIX + secrets.token_hex(12)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One change made by an operator or the system.

    ``id`` is the idempotency key: storing the same entry twice (a retried batch, a replayed
    spool) keeps one row. ``detail`` is a JSON object of plain values; it must never hold a key's
    secret or prompt text.

    ``seq``, ``prev_hash`` and ``hash`` are the entry's place in the hash chain
    (:mod:`onshore.domain.audit_chain`): the store sets them when it appends the entry, so they are
    None on an entry not yet stored (or stored by a release before the chain). They take no part
    in equality: the same entry read back is equal to the one appended.
    """

    id: str
    at: datetime
    actor: str  # who did it: "operator:<name>" (admin API, console), "cli:<user>", "system"
    action: str  # what: "key.revoke", "key.create", "org.create" …
    target_type: str  # what kind of thing changed: "api_key", "organisation" …
    target_id: str | None = None
    org_id: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    seq: int | None = field(default=None, compare=False)
    prev_hash: str | None = field(default=None, compare=False)
    hash: str | None = field(default=None, compare=False)

    @classmethod
    def create(
        cls,
        *,
        actor: str,
        action: str,
        target_type: str,
        target_id: str | None = None,
        org_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
        at: datetime | None = None,
    ) -> AuditEntry:
        """A new entry with a fresh id, stamped now unless ``at`` is given."""
        return cls(
            id=new_audit_id(),
            at=at or datetime.now(UTC),
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            org_id=org_id,
            detail=dict(detail or {}),
        )
