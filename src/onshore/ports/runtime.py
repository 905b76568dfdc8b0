"""What the request path needs at run time: time, the partner's connection, shared counters, telemetry."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from onshore.domain.counters import Admission, Counter, CounterState, Reservation

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

    def add_headers(self, headers: Sequence[tuple[bytes, bytes]]) -> None:
        """Headers for the answer, whichever goes out: complete, stream or error (rate limits)."""
        ...

    @property
    def extra_headers(self) -> tuple[tuple[bytes, bytes], ...]: ...

    async def send_complete(self, status: int, body: bytes) -> None: ...
    async def start_stream(self) -> None: ...
    async def send_chunk(self, chunk: bytes) -> None: ...
    async def end_stream(self) -> None: ...


# --- limits: counters with reservations --------------------------------------------------------------
# The values (Counter, CounterState, Held, Reservation, Admission) live in onshore.domain.counters.


class CounterStore(Protocol):
    """Counters shared by every replica (in-process by default; Redis with server-side scripts).

    ``reserve`` checks every counter and adds to all of them atomically, or to none: concurrent
    requests can never overrun a limit together, and a request refused by one limit takes nothing
    from the others. ``settle`` replaces each held amount by the real one when the request ends
    (``actual[i] = 0`` releases it; more than was held is counted too); an amount held in a window
    that has since ended is dropped with it. Both are one round trip to a shared store.

    Raises ``StoreError`` when the store cannot answer; the caller decides to fail open or closed.
    """

    async def reserve(self, counters: Sequence[Counter]) -> Admission: ...
    async def settle(self, reservation: Reservation, actual: Sequence[int]) -> None: ...
    def settle_later(self, reservation: Reservation, actual: Sequence[int]) -> None:
        """``settle`` without waiting for it (the request's answer has gone out): applied at once
        in process, sent with the next batch by a shared store. Failures are the store's to report."""
        ...

    async def drain(self) -> None:
        """Wait until every settlement queued by ``settle_later`` has been sent (at shutdown)."""
        ...

    async def used(self, counters: Sequence[Counter]) -> tuple[CounterState, ...]:
        """The counters as they stand, adding nothing (``amount`` is ignored): operators' views."""
        ...

    async def raise_to(self, floors: Sequence[tuple[Counter, int]]) -> None:
        """Set each counter to at least its floor: ``max(current, floor)``, in one round trip.

        For counters without a window only (``window_ms == 0``; monthly quotas): a store that lost
        its counts (a restart of the process, or of a Redis without persistence) is brought back to
        what the ledger says was used, and a counter already at or above its floor is left as it is,
        so raising it again and again changes nothing. A counter missing is created with its
        ``ttl_ms``; one that is raised has its ttl refreshed; ``amount`` and ``limit`` are ignored.

        Raises:
            ValueError: a windowed counter, or a negative floor or ttl.
            StoreError: the store cannot answer.
        """
        ...


# --- telemetry -------------------------------------------------------------------------------------


class RequestTrace(Protocol):
    """One request's span, from its arrival to its last byte (a tracing adapter's own object).

    The pipeline only carries it: the backend call sends ``traceparent`` along, so the engine's own
    trace joins the gateway's, and the report that ends the request (``request_finished`` or
    ``request_refused``) ends the span.
    """

    @property
    def traceparent(self) -> str:
        """The W3C ``traceparent`` header for the backend call: this span as the parent."""
        ...


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
    org: str = ""  # the organisation's name (bounded: organisations are made by operators)
    org_id: str = ""
    error_code: str | None = None  # the gateway's error code, or an engine's (unbounded: not a label)
    cost_micro_krw: int | None = None  # at the price in force when the request arrived
    jurisdiction: str = ""  # where the backend that served it processes data
    upstream_model: str = ""  # the model name the backend was asked for
    streamed: bool = False
    request_id: str = ""  # the server's id (a trace attribute; never a metrics label)
    trace: RequestTrace | None = None  # from ``request_started``; ended by ``request_finished``


class Telemetry(Protocol):
    """What the pipeline reports; Prometheus and OpenTelemetry are adapters behind it.

    A request's reports begin with ``request_started`` and end with exactly one of
    ``request_finished`` (someone was identified) or ``request_refused`` (nobody was).
    """

    def request_started(self, endpoint: str, client: ClientChannel) -> RequestTrace | None:
        """A request arrived: its span (the client's ``traceparent`` its parent when it sent one),
        or None from an adapter that does not trace. Adapters that do not trace return None at
        once: this runs for every request, tracing on or off."""
        ...

    def request_finished(self, request: FinishedRequest) -> None: ...

    def request_refused(
        self, endpoint: str, status: int, code: str | None, trace: RequestTrace | None = None
    ) -> None:
        """A request refused before anyone was identified (bad key): counted, never a ledger row."""
        ...

    def upstream_failed(self, backend: str, reason: str) -> None: ...

    def request_limited(self, scope: str, limit: str) -> None:
        """A partner's request refused by one of its limits (scope "key" or "organization")."""
        ...

    def limits_unavailable(self, decision: str) -> None:
        """The limits store did not answer: the request was let through ("open") or refused
        ("closed"), or a settlement was lost ("settle_failed")."""
        ...

    def request_queued(self, model: str, org: str, tier: str, waited_s: float, outcome: str) -> None:
        """A request left the fair queue: "admitted", "timeout" or "left" (its client went away)."""
        ...

    def tokens_served(self, org: str, tier: str, tokens: int) -> None:
        """Tokens served to an organisation through a queued model (its fair share, as counted)."""
        ...

    def residency_refused(self, model: str) -> None:
        """A request refused because no backend in its allowed jurisdictions serves the model."""
        ...

    def pii_found(self, entity: str, count: int, mode: str) -> None:
        """Personal data found in a request (``count`` of one type) under policy ``mode``."""
        ...
