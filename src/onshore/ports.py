"""The interfaces the core needs; adapters in ``onshore.store`` and ``onshore.backends`` implement them.

The SQL store is synchronous on purpose: it never runs on the request path (authentication is served
from an in-memory snapshot, the ledger is written by a background thread), and a synchronous store is
what Alembic and the CLI want anyway. The gateway calls it through ``asyncio.to_thread``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from onshore.domain.audit import AuditEntry
from onshore.domain.catalog import Endpoint
from onshore.domain.tenancy import ApiKey, Organisation
from onshore.domain.usage import UsageRecord, UsageSummary


class StoreError(Exception):
    """The store could not be reached or failed; adapters raise this instead of driver errors."""


class AlreadyExists(StoreError):
    """A unique name is already taken."""


class TenancyTransaction(Protocol):
    """Tenancy changes and their audit entries on one open transaction: all commit, or none."""

    def create_org(self, name: str) -> Organisation: ...
    def add_key(self, key: ApiKey) -> ApiKey: ...
    def revoke_key(self, key_id: str, at: datetime) -> ApiKey | None: ...
    def append_audit(self, *entries: AuditEntry) -> None: ...


class TenancyStore(Protocol):
    """Organisations and keys (durable, in SQL)."""

    def unit_of_work(self, action: str = ...) -> AbstractContextManager[TenancyTransaction]:
        """One transaction: commits when the block ends normally, rolls back on any exception."""
        ...

    def create_org(self, name: str) -> Organisation: ...
    def list_orgs(self) -> list[Organisation]: ...
    def get_org(self, org_id: str) -> Organisation | None: ...
    def get_org_by_name(self, name: str) -> Organisation | None: ...
    def add_key(self, key: ApiKey) -> ApiKey: ...
    def list_keys(self, org_id: str | None = None) -> list[ApiKey]: ...
    def get_key(self, key_id: str) -> ApiKey | None: ...
    def get_key_by_digest(self, digest: str) -> ApiKey | None: ...
    def revoke_key(self, key_id: str, at: datetime) -> ApiKey | None: ...
    def keys_changed_since_seq(self, seq: int | None) -> tuple[list[ApiKey], int]:
        """Keys changed after change number ``seq`` (every key when None), and the newest number.

        Numbers come from the database, never from a writer's clock, so replicas whose clocks
        disagree still see every revocation."""
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

    @property
    def headers(self) -> Mapping[str, str]:
        """Response headers (Retry-After on a 429); empty for embedded models."""
        ...

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


# --- time -----------------------------------------------------------------------------------------


class Clock(Protocol):
    """Every time read on the request path goes through this, so tests can move time."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back: durations and deadlines."""
        ...

    def now(self) -> datetime:
        """Wall-clock time in UTC: the timestamps of records."""
        ...


# --- the partner's connection, as the pipeline sees it ---------------------------------------------


class ClientChannel(Protocol):
    """One partner request and its response; the API face implements it over ASGI.

    The pipeline's steps read the request and write the answer only through this, so they know
    nothing of HTTP servers. ``started`` turns true with the first byte of the answer: from then
    on an error can only be reported inside the stream.
    """

    @property
    def started(self) -> bool: ...

    @property
    def gone(self) -> bool:
        """True once the client has closed the connection."""
        ...

    def header(self, name: bytes) -> bytes | None:
        """A request header by its lower-case name."""
        ...

    async def read_body(self, limit: int) -> bytes:
        """The whole body; PayloadTooLarge above ``limit``, ClientClosed if the client leaves."""
        ...

    def cancel_on_disconnect(self) -> AbstractAsyncContextManager[None]:
        """While inside, a client that leaves cancels the work; it leaves as ClientClosed."""
        ...

    async def send_complete(self, status: int, body: bytes) -> None: ...
    async def start_stream(self) -> None: ...
    async def send_chunk(self, chunk: bytes) -> None: ...
    async def end_stream(self) -> None: ...


# --- limits: counters with reservations --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reservation:
    """An amount held on a counter until the request settles it with what it really used."""

    key: str
    window: int  # the index of the fixed window the amount was counted in
    window_s: float
    amount: int


@dataclass(frozen=True, slots=True)
class Admission:
    """A counter's answer: granted with a reservation, or refused with when to try again."""

    granted: bool
    used: int  # the window's total after this request (when granted) or as it stands (when refused)
    limit: int
    reservation: Reservation | None = None
    retry_after_s: float = 0.0


class CounterStore(Protocol):
    """Fixed-window counters shared by every replica (in-process by default; Redis with Lua later).

    ``reserve`` checks and adds atomically, so concurrent requests can never overrun a limit
    together; ``settle`` replaces the reserved amount by the real one when the request ends
    (``actual=0`` releases it). Token and KRW budgets reserve an estimate and settle the usage.
    """

    async def reserve(self, key: str, amount: int, limit: int, window_s: float) -> Admission: ...
    async def settle(self, reservation: Reservation, actual: int) -> None: ...
    async def used(self, key: str, window_s: float) -> int: ...


# --- telemetry -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FinishedRequest:
    """What telemetry learns of one metered request (never prompt text, never a key)."""

    endpoint: str
    model: str  # "" unless the model was routed: a partner's typo must never become a label
    backend: str
    status: int
    seconds: float
    ttft_seconds: float | None
    prompt_tokens: int
    completion_tokens: int


class Telemetry(Protocol):
    """What the pipeline reports; Prometheus (and later OpenTelemetry) are adapters behind it."""

    def request_finished(self, request: FinishedRequest) -> None: ...

    def request_refused(self, endpoint: str, status: int, code: str | None) -> None:
        """A request refused before anyone was identified (bad key): counted, never a ledger row."""
        ...

    def upstream_failed(self, backend: str, reason: str) -> None: ...


# --- audit -------------------------------------------------------------------------------------------


class AuditSink(Protocol):
    """The append-only audit trail. ``append`` never blocks and never loses an entry: the SQL
    adapter reuses the ledger's buffered, spooled sink. A change and its entry that must commit
    together go through the store's unit of work instead."""

    def append(self, entry: AuditEntry) -> None: ...


class AuditReader(Protocol):
    def entries(self, limit: int = 100, org_id: str | None = None) -> list[AuditEntry]:
        """The newest entries first."""
        ...
