"""Read the audit trail: for the CLI (`onshore audit`) and the admin API (`GET /admin/v1/audit`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from onshore.admin.tenancy import require_org
from onshore.domain.audit import AuditEntry
from onshore.errors import InvalidRequest
from onshore.ports import AuditReader, AuditTrail, TenancyStore

MAX_LIMIT = 1000


def list_entries(
    reader: AuditReader, tenancy: TenancyStore, *, org_name: str | None = None, limit: int = 100
) -> list[AuditEntry]:
    """The newest entries first, optionally of one organisation."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"limit must be between 1 and {MAX_LIMIT}", param="limit")
    org_id = require_org(tenancy, org_name).id if org_name else None
    return reader.entries(limit=limit, org_id=org_id)


def find_entries(
    trail: AuditTrail,
    tenancy: TenancyStore,
    *,
    org_name: str | None = None,
    since: str | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """The newest entries first, optionally of one organisation and from ``since`` on."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"limit must be between 1 and {MAX_LIMIT}", param="limit")
    org_id = require_org(tenancy, org_name).id if org_name else None
    return trail.find(org_id=org_id, since=None if since is None else parse_moment(since), limit=limit)


def parse_moment(text: str) -> datetime:
    """``2026-12-01`` (midnight UTC) or an ISO 8601 date and time (UTC when it names no zone).

    Raises:
        InvalidRequest: neither.
    """
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidRequest(
            f"invalid date {text!r}: use YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+09:00]", param="since"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def audit_json(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "object": "audit.entry",
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "org_id": entry.org_id,
        "detail": dict(entry.detail),
        # The entry's place in the hash chain (None for one not chained yet): `onshore audit verify`.
        "seq": entry.seq,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }
