"""The interfaces the core needs; adapters in ``onshore.store`` and ``onshore.backends`` implement them.

The SQL store is synchronous on purpose: it never runs on the request path (authentication is served
from an in-memory snapshot, the ledger is written by a background thread), and a synchronous store is
what Alembic and the CLI want anyway. The gateway calls it through ``asyncio.to_thread``.
"""

from __future__ import annotations

from onshore.ports.backends import Backend, BackendCall, BackendReply
from onshore.ports.batches import BatchStore, FileIndex, FileStore
from onshore.ports.billing import InvoiceExists, InvoiceStore
from onshore.ports.operators import OperatorStore
from onshore.ports.responses import ResponseStore, StoredResponse
from onshore.ports.runtime import (
    ClientChannel,
    Clock,
    CounterStore,
    FinishedRequest,
    RequestTrace,
    Telemetry,
)
from onshore.ports.store import (
    AlreadyExists,
    AuditReader,
    AuditSink,
    AuditTrail,
    CheckpointSigner,
    HealthCheck,
    LimitsSnapshot,
    LimitsStore,
    LimitsUpdate,
    PolicyStore,
    PolicyUpdate,
    RevocationBus,
    StoreError,
    TenancyStore,
    TenancyTransaction,
    UsageReader,
    UsageWriter,
)
from onshore.ports.usage_series import UsageSeriesReader

__all__ = [
    "AlreadyExists",
    "AuditReader",
    "AuditSink",
    "AuditTrail",
    "Backend",
    "BackendCall",
    "BackendReply",
    "BatchStore",
    "CheckpointSigner",
    "ClientChannel",
    "Clock",
    "CounterStore",
    "FileIndex",
    "FileStore",
    "FinishedRequest",
    "HealthCheck",
    "InvoiceExists",
    "InvoiceStore",
    "LimitsSnapshot",
    "LimitsStore",
    "LimitsUpdate",
    "OperatorStore",
    "PolicyStore",
    "PolicyUpdate",
    "RequestTrace",
    "ResponseStore",
    "RevocationBus",
    "StoreError",
    "StoredResponse",
    "Telemetry",
    "TenancyStore",
    "TenancyTransaction",
    "UsageReader",
    "UsageSeriesReader",
    "UsageWriter",
]
