"""In-process implementations of the core's ports: the defaults on one machine, and what tests use.

Each passes the same contract suite as its shared implementation (``tests/contracts``), so a
replica set can swap in Redis or SQL without the pipeline noticing.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from onshore.domain.audit import AuditEntry
from onshore.domain.counters import Admission, Counter, CounterState, Held, Reservation
from onshore.ports import ClientChannel, Clock, FinishedRequest, RequestTrace, StoreError

_NEVER = 1 << 62  # ms: "until" of a gauge without a ttl
_FULL_PAUSE_MS = 1_000


class _Count:
    """One counter's total, its window's end (0: a gauge) and the ms from which it counts as gone."""

    __slots__ = ("end", "n", "ttl", "until")

    def __init__(self, end: int, ttl: int, until: int) -> None:
        self.n = 0
        self.end = end  # ms; 0 for a counter without a window
        self.ttl = ttl  # ms a gauge lives after its last change; 0: until settled to zero
        self.until = until  # ms; the window's end, the ttl's expiry, or _NEVER


class MemoryCounterStore:
    """``CounterStore`` in one process, with the Redis store's semantics (the same contract suite).

    Methods are ``async`` for the port's sake (the Redis one awaits the network) but never yield
    between checking and adding, so two requests can never both take the last unit. Windows and
    ttls are timed by ``clock.now()`` in whole milliseconds. A key may appear once per reservation.

    Memory stays bounded without a timer: a gauge settled to zero is dropped at once, ended windows
    and expired gauges by a sweep that runs when the table has doubled since the last one (amortised
    O(1) per new key, like a growing list). A table still holding ``max_keys`` live counters after a
    sweep refuses new keys with ``StoreError``, so the caller's fail-open or fail-closed choice
    applies instead of the process growing without bound.

    Cost (timeit, ``SystemClock``, CPU time on the 2-core dev VM shared with other work): ``reserve``
    of four counters about 6.5 µs, ``reserve`` + ``settle`` about 9 µs. About 4 µs of the 6.5 is
    building the port's result values (ten ``frozen=True`` dataclasses at ~0.4 µs each; plain
    slotted ones would cost ~0.15 µs) and 0.5 µs reading the clock; the counting is under 2 µs.
    """

    def __init__(self, clock: Clock, *, max_keys: int = 1_000_000) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be >= 1")
        self._clock = clock
        self._counts: dict[str, _Count] = {}
        self._max_keys = max_keys
        self._sweep_at = min(max_keys, 1024)
        self._full_until = 0  # ms: a sweep found the table full of live counters; wait till then

    def _now_ms(self) -> int:
        return int(self._clock.now().timestamp() * 1000)

    async def reserve(self, counters: Sequence[Counter]) -> Admission:
        now = self._now_ms()
        found, refused, fresh = self._find(counters, now)
        if refused is not None:
            states = tuple(_state(c, k, now) for c, k in zip(counters, found, strict=True))
            return Admission(granted=False, states=states, refused=refused)
        if fresh and len(self._counts) + fresh > self._sweep_at:
            self._make_room(fresh, now)  # before the first add: a full table refuses all or none
        counts = self._counts
        states_: list[CounterState] = []
        held: list[Held] = []
        for c, known in zip(counters, found, strict=True):
            count = known if known is not None else _open(c, now)
            if known is None:
                counts[c.key] = count
            count.n += c.amount
            if count.ttl:
                count.until = now + count.ttl
            states_.append(CounterState(count.n, c.limit, count.end - now if count.end else 0))
            held.append(Held(c.key, count.end, c.amount, c.ttl_ms))
        return Admission(granted=True, states=tuple(states_), reservation=Reservation(tuple(held)))

    def _find(self, counters: Sequence[Counter], now: int) -> tuple[list[_Count | None], int | None, int]:
        """Each counter's live entry (None: none, or ended), the first that refuses, how many new."""
        counts = self._counts
        found: list[_Count | None] = []
        refused: int | None = None
        fresh = 0
        for i, c in enumerate(counters):
            if (c.amount | c.limit | c.window_ms | c.ttl_ms) < 0:  # negative if any one is
                raise ValueError(f"negative amount, limit, window_ms or ttl_ms in {c!r}")
            count = counts.get(c.key)
            if count is not None and count.until <= now:
                count = None
            if count is None:
                fresh += 1
            if refused is None and (count.n if count is not None else 0) + c.amount > c.limit:
                refused = i
            found.append(count)
        if len({c.key for c in counters}) != len(counters):
            raise ValueError("a key appears twice in one reservation")
        return found, refused, fresh

    async def settle(self, reservation: Reservation, actual: Sequence[int]) -> None:
        self.settle_later(reservation, actual)

    async def drain(self) -> None:
        """Nothing is ever queued: ``settle_later`` applies at once."""

    def settle_later(self, reservation: Reservation, actual: Sequence[int]) -> None:
        held = reservation.held
        if len(actual) != len(held):
            raise ValueError(f"{len(actual)} actual amounts for {len(held)} held")
        if any(a < 0 for a in actual):
            raise ValueError("an actual amount is negative")
        now = self._now_ms()
        counts = self._counts
        for h, amount in zip(held, actual, strict=True):
            if amount == h.amount and h.window_end_ms:
                continue  # a window's count already right (a request per minute): nothing to do
            count = counts.get(h.key)
            if not h.window_end_ms and amount > h.amount and (count is None or count.until <= now):
                # A gauge deleted at 0 (or expired) meanwhile: what was held went with it, but what
                # was used beyond it is new and must count.
                count = counts[h.key] = _Count(0, h.ttl_ms, now + h.ttl_ms if h.ttl_ms else _NEVER)
                count.n = amount - h.amount
                continue
            if count is None or count.end != h.window_end_ms or count.until <= now:
                continue  # its window (or the gauge) is gone, and what was held went with it
            count.n = max(0, count.n + amount - h.amount)
            if not count.end and not count.n:
                del counts[h.key]  # a gauge back at zero is the same as no gauge
            elif count.ttl:
                count.until = now + count.ttl

    async def used(self, counters: Sequence[Counter]) -> tuple[CounterState, ...]:
        now = self._now_ms()
        states: list[CounterState] = []
        for c in counters:
            if (c.limit | c.window_ms | c.ttl_ms) < 0:
                raise ValueError(f"negative limit, window_ms or ttl_ms in {c!r}")
            count = self._counts.get(c.key)
            states.append(_state(c, None if count is None or count.until <= now else count, now))
        return tuple(states)

    async def raise_to(self, floors: Sequence[tuple[Counter, int]]) -> None:
        _check_floors(floors)
        now = self._now_ms()
        counts = self._counts
        live = [(c, floor, _live(counts.get(c.key), now)) for c, floor in floors]
        fresh = len({c.key for c, floor, count in live if count is None and floor > 0})
        if fresh and len(counts) + fresh > self._sweep_at:
            self._make_room(fresh, now)  # before the first change: a full table raises none
        for c, floor, _ in live:
            count = _live(counts.get(c.key), now)  # again: an earlier floor may have made it
            if count is None:
                if floor <= 0:
                    continue  # a gauge at zero is the same as no gauge
                count = counts[c.key] = _open(c, now)
            elif count.end or count.n >= floor:
                continue  # at or above its floor already (or a window under the same key)
            count.n = floor
            count.ttl = c.ttl_ms or count.ttl
            if count.ttl:
                count.until = now + count.ttl

    def _make_room(self, fresh: int, now: int) -> None:
        counts = self._counts
        if now >= self._full_until:
            # Only what has ended: every live entry may be one this reservation is about to add to.
            for stale in [k for k, v in counts.items() if v.until <= now]:
                del counts[stale]
            # The next sweep waits until the table has doubled, so each costs O(1) per insertion.
            self._sweep_at = min(self._max_keys, max(1024, 2 * len(counts)))
        if len(counts) + fresh > self._max_keys:
            # Full of live counters: refuse new keys without sweeping again for a second, so a
            # full table costs one O(n) pass per second rather than one per request.
            if now >= self._full_until:
                self._full_until = now + _FULL_PAUSE_MS
            raise StoreError(f"the in-process counter table is full ({self._max_keys} live keys)")


def _open(counter: Counter, now: int) -> _Count:
    if counter.window_ms:
        return _Count(now + counter.window_ms, 0, now + counter.window_ms)
    return _Count(0, counter.ttl_ms, _NEVER)


def _live(count: _Count | None, now: int) -> _Count | None:
    return None if count is None or count.until <= now else count


def _check_floors(floors: Sequence[tuple[Counter, int]]) -> None:
    for c, floor in floors:
        if c.window_ms:
            raise ValueError(f"only a counter without a window can be raised, not {c!r}")
        if floor < 0 or c.ttl_ms < 0:
            raise ValueError(f"negative floor or ttl_ms for {c!r}")


def _state(counter: Counter, count: _Count | None, now: int) -> CounterState:
    if count is None:  # no open window: the whole limit is there now
        return CounterState(0, counter.limit, 0)
    return CounterState(count.n, counter.limit, count.end - now if count.end else 0)


class MemoryAuditLog:
    """``AuditSink`` and ``AuditReader`` in memory (bounded): the embedded default without SQL."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._entries: deque[AuditEntry] = deque(maxlen=max_entries)
        self._ids: set[str] = set()

    def append(self, entry: AuditEntry) -> None:
        if entry.id in self._ids:
            return  # idempotent on the entry's id, like the SQL table
        if len(self._entries) == self._entries.maxlen:
            self._ids.discard(self._entries[0].id)
        self._entries.append(entry)
        self._ids.add(entry.id)

    def entries(self, limit: int = 100, org_id: str | None = None) -> list[AuditEntry]:
        found = [e for e in reversed(self._entries) if org_id is None or e.org_id == org_id]
        return found[:limit]


class RecordingTelemetry:
    """``Telemetry`` that keeps what it was told: for tests and for embedding without Prometheus."""

    def __init__(self) -> None:
        self.finished: list[FinishedRequest] = []
        self.refused: list[tuple[str, int, str | None]] = []
        self.failures: list[tuple[str, str]] = []
        self.limited: list[tuple[str, str]] = []
        self.unavailable: list[str] = []
        self.queued: list[tuple[str, str, str, float, str]] = []
        self.served: dict[tuple[str, str], int] = {}
        self.residency: list[str] = []
        self.pii: dict[tuple[str, str], int] = {}
        self.started = 0

    def request_started(self, endpoint: str, client: ClientChannel) -> RequestTrace | None:
        self.started += 1
        return None  # it does not trace

    def request_finished(self, request: FinishedRequest) -> None:
        self.finished.append(request)

    def request_refused(
        self, endpoint: str, status: int, code: str | None, trace: RequestTrace | None = None
    ) -> None:
        self.refused.append((endpoint, status, code))

    def upstream_failed(self, backend: str, reason: str) -> None:
        self.failures.append((backend, reason))

    def request_limited(self, scope: str, limit: str) -> None:
        self.limited.append((scope, limit))

    def limits_unavailable(self, decision: str) -> None:
        self.unavailable.append(decision)

    def request_queued(self, model: str, org: str, tier: str, waited_s: float, outcome: str) -> None:
        self.queued.append((model, org, tier, waited_s, outcome))

    def tokens_served(self, org: str, tier: str, tokens: int) -> None:
        self.served[(org, tier)] = self.served.get((org, tier), 0) + tokens

    def residency_refused(self, model: str) -> None:
        self.residency.append(model)

    def pii_found(self, entity: str, count: int, mode: str) -> None:
        self.pii[(entity, mode)] = self.pii.get((entity, mode), 0) + count
