"""The store's public names are pinned, so the API cannot drift unnoticed (httpx's habit)."""

from __future__ import annotations

import onshore.store.sql
import onshore.store.state


def test_sql_exports() -> None:
    assert sorted(onshore.store.sql.__all__) == [
        "SqlAuditLog",
        "SqlInvoiceStore",
        "SqlLimitsStore",
        "SqlRejectStore",
        "SqlTenancyStore",
        "SqlUsageStore",
        "make_engine",
        "normalise_url",
        "redact_url",
    ]


def test_state_exports() -> None:
    assert sorted(onshore.store.state.__all__) == ["InProcessRevocationBus", "RedisRevocationBus"]
