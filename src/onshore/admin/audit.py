"""Read the audit trail: for the CLI (`onshore audit`) and the admin API (`GET /admin/v1/audit`)."""

from __future__ import annotations

from typing import Any

from onshore.admin.tenancy import require_org
from onshore.domain.audit import AuditEntry
from onshore.errors import InvalidRequest
from onshore.ports import AuditReader, TenancyStore

MAX_LIMIT = 1000


def list_entries(
    reader: AuditReader, tenancy: TenancyStore, *, org_name: str | None = None, limit: int = 100
) -> list[AuditEntry]:
    """The newest entries first, optionally of one organisation."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"limit must be between 1 and {MAX_LIMIT}", param="limit")
    org_id = require_org(tenancy, org_name).id if org_name else None
    return reader.entries(limit=limit, org_id=org_id)


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
    }
