"""Partners' interactive requests in flight on this replica, so that batch work can step aside for them.

A batch shares the replica's event loop, and the engines, with interactive traffic. Run at full
concurrency beside it, a batch keeps the loop busy (about 1,000 requests a second through the same
pipeline) and fills a model's capacity, so an interactive request waits behind batch requests twice:
for the loop, and for a place at the engine (the fair queue admits by weighted share, and cannot take
a place back from a batch request already running). The batch runner reads ``busy`` before each
request it starts and holds its concurrency down while partners are being served (``batches.yield_*``
in docs/batches.md).

Counted by ``CountInteractive`` (``gateway/steps/interactive.py``) between two awaits of one event loop:
no lock, and reading it costs an attribute and a clock read.
"""

from __future__ import annotations

from onshore.ports import Clock


class InteractiveTraffic:
    __slots__ = ("_clock", "_last_end", "in_flight")

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.in_flight = 0
        self._last_end = float("-inf")

    def started(self) -> None:
        self.in_flight += 1

    def ended(self) -> None:
        self.in_flight -= 1
        self._last_end = self._clock.monotonic()

    def busy(self, hold_s: float) -> bool:
        """True while an interactive request is in flight, or one ended less than ``hold_s`` ago
        (a partner's client sends its next request a moment after the last answer)."""
        return self.in_flight > 0 or self._clock.monotonic() - self._last_end < hold_s
