"""In-process implementations of the core's ports: the defaults on one machine, and what tests use.

Each passes the same contract suite as its shared implementation (``tests/contracts``), so a
replica set can swap in Redis or SQL without the pipeline noticing.
"""

from __future__ import annotations

import math
from collections import deque

from onshore.domain.audit import AuditEntry
from onshore.ports import Admission, Clock, FinishedRequest, Reservation


class MemoryCounterStore:
    """``CounterStore`` in one process: fixed windows keyed by (key, window index).

    Methods are ``async`` for the port's sake (the Redis one awaits the network) but never yield
    while checking and adding, so two requests can never both take the last unit.
    """

    def __init__(self, clock: Clock, *, max_keys: int = 1_000_000) -> None:
        self._clock = clock
        self._counts: dict[tuple[str, int], int] = {}
        self._max_keys = max_keys

    def _window(self, window_s: float) -> tuple[int, float]:
        now = self._clock.now().timestamp()
        index = math.floor(now / window_s)
        return index, (index + 1) * window_s - now

    async def reserve(self, key: str, amount: int, limit: int, window_s: float) -> Admission:
        if amount < 0 or limit < 0 or window_s <= 0:
            raise ValueError("amount and limit must be >= 0 and window_s > 0")
        index, left = self._window(window_s)
        slot = (key, index)
        used = self._counts.get(slot, 0)
        if used + amount > limit:
            return Admission(granted=False, used=used, limit=limit, retry_after_s=left)
        if len(self._counts) >= self._max_keys:
            self._expire(index)
        self._counts[slot] = used + amount
        reservation = Reservation(key=key, window=index, window_s=window_s, amount=amount)
        return Admission(granted=True, used=used + amount, limit=limit, reservation=reservation)

    async def settle(self, reservation: Reservation, actual: int) -> None:
        slot = (reservation.key, reservation.window)
        if slot in self._counts:  # a window already gone needs no correction
            self._counts[slot] = max(0, self._counts[slot] + max(0, actual) - reservation.amount)

    async def used(self, key: str, window_s: float) -> int:
        index, _ = self._window(window_s)
        return self._counts.get((key, index), 0)

    def _expire(self, current: int) -> None:
        for slot in [s for s in self._counts if s[1] < current]:
            del self._counts[slot]


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

    def request_finished(self, request: FinishedRequest) -> None:
        self.finished.append(request)

    def request_refused(self, endpoint: str, status: int, code: str | None) -> None:
        self.refused.append((endpoint, status, code))

    def upstream_failed(self, backend: str, reason: str) -> None:
        self.failures.append((backend, reason))
