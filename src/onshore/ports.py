"""The interfaces the core needs; adapters in ``onshore.store`` and ``onshore.backends`` implement them.

The SQL store is synchronous on purpose: it never runs on the request path (authentication is served
from an in-memory snapshot, the ledger is written by a background thread), and a synchronous store is
what Alembic and the CLI want anyway. The gateway calls it through ``asyncio.to_thread``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from onshore.domain.catalog import Endpoint
from onshore.domain.tenancy import ApiKey, Organisation
from onshore.domain.usage import UsageRecord, UsageSummary


class StoreError(Exception):
    """The store could not be reached or failed; adapters raise this instead of driver errors."""


class AlreadyExists(StoreError):
    """A unique name is already taken."""


class TenancyStore(Protocol):
    """Organisations and keys (durable, in SQL)."""

    def create_org(self, name: str) -> Organisation: ...
    def list_orgs(self) -> list[Organisation]: ...
    def get_org(self, org_id: str) -> Organisation | None: ...
    def get_org_by_name(self, name: str) -> Organisation | None: ...
    def add_key(self, key: ApiKey) -> ApiKey: ...
    def list_keys(self, org_id: str | None = None) -> list[ApiKey]: ...
    def get_key(self, key_id: str) -> ApiKey | None: ...
    def get_key_by_digest(self, digest: str) -> ApiKey | None: ...
    def revoke_key(self, key_id: str, at: datetime) -> ApiKey | None: ...
    def keys_updated_since(self, since: datetime | None) -> list[ApiKey]:
        """Every key whose row changed at or after ``since`` (all keys when None)."""
        ...


class UsageWriter(Protocol):
    def write_batch(self, records: Sequence[UsageRecord]) -> None:
        """Insert the rows; idempotent on ``request_id`` so a retried batch never duplicates."""
        ...


class UsageReader(Protocol):
    def summary(self, org_id: str, start: datetime, end: datetime) -> UsageSummary: ...
    def records(
        self, start: datetime, end: datetime, org_id: str | None = None, limit: int | None = None
    ) -> list[UsageRecord]: ...


class HealthCheck(Protocol):
    def ping(self) -> None:
        """Raise StoreError when the dependency is unreachable."""
        ...


class RevocationBus(Protocol):
    """Tells every replica at once that a key changed (Redis pub/sub); polling is the fallback."""

    async def publish(self, key_id: str) -> None: ...
    async def listen(self, on_change: Callable[[str], None]) -> None:
        """Run until cancelled, calling ``on_change(key_id)`` for every message."""
        ...

    async def aclose(self) -> None: ...


# --- backends -----------------------------------------------------------------------------------


@dataclass(slots=True)
class BackendCall:
    """One request as a backend receives it: OpenAI wire format, model already the upstream name."""

    endpoint: Endpoint
    body: bytes  # what a remote engine is sent, byte for byte
    payload: dict[str, Any]  # the same body parsed (embedded backends read it; remote ones ignore it)
    stream: bool
    request_id: str
    headers: dict[str, str] = field(default_factory=dict)


class BackendReply(Protocol):
    """A backend's answer in OpenAI wire format: JSON bytes, or SSE bytes when streaming."""

    status: int

    async def read(self) -> bytes:
        """The whole body (non-streaming replies and error replies)."""
        ...

    def chunks(self) -> AsyncIterator[bytes]:
        """The SSE body as it arrives, in arbitrary pieces; stopping early cancels the work."""
        ...

    async def aclose(self) -> None: ...


class Backend(Protocol):
    """Anything that answers OpenAI-compatible calls: a remote engine or an embedded model."""

    name: str
    kind: str

    async def start(self) -> None: ...
    async def aclose(self) -> None: ...
    async def check_health(self) -> bool:
        """Probe the backend now (used by ``onshore backends list`` and the health tracker)."""
        ...

    async def send(self, call: BackendCall) -> BackendReply:
        """Start the call; raise UpstreamUnavailable/UpstreamTimeout/BackendUnavailable on failure."""
        ...
