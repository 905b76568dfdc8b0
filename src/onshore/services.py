"""What the faces (API, CLI, web) are given: ports and operations, never an adapter or an engine.

``onshore.bootstrap`` builds it; nothing here imports SQLAlchemy, aiohttp or Redis.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from onshore.admin.operator_auth import OperatorAuth
from onshore.config.settings import Settings
from onshore.domain.keys import KeyDigester
from onshore.domain.limits import LIMITS_CHANGED_NOTICE
from onshore.gateway.auth import Authenticator, KeyCache
from onshore.gateway.batches import BatchService
from onshore.gateway.chain import Handler
from onshore.gateway.fair_queue import FairQueue
from onshore.gateway.key_sync import KeySync
from onshore.gateway.limit_book import LimitBook
from onshore.gateway.routing import Router
from onshore.lifecycle import Lifecycle
from onshore.ports import (
    AuditReader,
    AuditSink,
    AuditTrail,
    Backend,
    Clock,
    HealthCheck,
    InvoiceStore,
    LimitsStore,
    OperatorStore,
    PolicyStore,
    ResponseStore,
    RevocationBus,
    TenancyStore,
    UsageReader,
)

log = logging.getLogger(__name__)


@dataclass
class Store:
    """The durable store as ports: what the CLI and the admin operations use."""

    tenancy: TenancyStore
    usage: UsageReader
    health: HealthCheck
    digester: KeyDigester
    audit: AuditSink
    audit_reader: AuditReader
    audit_trail: AuditTrail  # the hash chain and its checkpoints, for `onshore audit verify`
    limits: LimitsStore
    policies: PolicyStore
    invoices: InvoiceStore  # issued invoices (admin/billing.py)
    close: Callable[[], None]
    operators: OperatorStore | None = None  # operators and their tokens (docs/operators.md)


@dataclass
class Services:
    settings: Settings
    clock: Clock
    store: Store
    pipeline: Handler  # one inference request, from metering to the response
    authenticator: Authenticator
    keys: KeyCache
    key_sync: KeySync
    router: Router
    backends: list[Backend]
    lifecycle: Lifecycle
    render_metrics: Callable[[], bytes]
    bus: RevocationBus | None
    admin_token: str | None
    # Reloads this replica's limits and prices snapshot (set by the composition root).
    on_limits_changed: Callable[[], Awaitable[None]] | None = None
    limit_book: LimitBook | None = None  # the limits and prices this replica enforces
    queue: FairQueue | None = None  # the fair queue of the models at capacity
    batches: BatchService | None = None  # files and batches (docs/batches.md)
    responses: ResponseStore | None = None  # stored Responses API answers
    operators: OperatorAuth | None = None  # who calls the admin API and the console (docs/operators.md)

    async def start(self) -> None:
        await self.lifecycle.start()

    async def stop(self) -> None:
        await self.lifecycle.stop()

    async def revoke_everywhere(self, key_id: str) -> None:
        """After a revocation through this replica: apply it here now, and tell the others."""
        self.keys.forget(key_id)
        if self.bus is not None:
            try:
                await self.bus.publish(key_id)
            except Exception:
                log.warning("could not publish a key revocation; replicas will see it by polling")

    async def announce_limits_change(self) -> None:
        """After a limit or price changed through this replica: every replica reloads at once."""
        refresh = self.on_limits_changed
        if refresh is not None:
            await refresh()
        if self.bus is not None:
            try:
                await self.bus.publish(LIMITS_CHANGED_NOTICE)
            except Exception:
                log.warning("could not publish a limits change; replicas will see it by polling")
