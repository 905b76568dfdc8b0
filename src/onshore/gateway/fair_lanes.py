"""The fair queue's waiting room: organisations' flows, the lanes they wait in, and the waiters.

The algorithm that moves requests through them is in ``fair_queue.py``; this module keeps the data
and the heap of backlogged flows (ordered by VTC counter), so each module stays one job.
"""

from __future__ import annotations

import asyncio
import heapq
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from onshore.gateway.fair_queue import Slot


class Flow:
    """One organisation's place in one model's queue."""

    __slots__ = ("counter", "epoch", "heap_seq", "live", "waiters")

    def __init__(self) -> None:
        self.counter = 0.0  # tokens / weight received in busy period `epoch`
        self.epoch = -1
        self.heap_seq: int | None = None  # seq of its valid heap entry; None: not in the heap
        self.live = 0  # waiters still waiting (the deque may also hold ones that left)
        self.waiters: deque[Waiter] = deque()


class Lane:
    """The organisations waiting for one model in one lane (foreground, or background for batches)."""

    __slots__ = ("depth", "epoch", "floor", "heap", "orgs", "seq")

    def __init__(self) -> None:
        self.depth = 0  # live waiters
        self.epoch = 0  # busy period; moves on each time a place frees with nobody waiting here
        self.floor = 0.0  # counter of the organisation served last from this lane
        self.seq = 0
        # (counter, seq, org) for every organisation with waiters; entries whose seq is not the
        # org's heap_seq are stale (the counter moved, or the org stopped waiting) and are skipped.
        self.heap: list[tuple[float, int, Flow]] = []
        self.orgs: dict[str, Flow] = {}

    def push(self, org: Flow) -> None:
        self.seq += 1
        org.heap_seq = self.seq
        heapq.heappush(self.heap, (org.counter, self.seq, org))

    def pop(self) -> Flow:
        while True:
            _, seq, org = heapq.heappop(self.heap)
            if org.heap_seq == seq:
                org.heap_seq = None
                return org

    def min_counter(self) -> float:
        heap = self.heap
        while heap and heap[0][2].heap_seq != heap[0][1]:
            heapq.heappop(heap)
        return heap[0][0] if heap else self.floor


# A waiter's state. Kept apart from its future's, because a cancelled task's future is done at once
# but the task counts itself out only when it next runs, and a place may free in between.
WAITING, GRANTED, LEFT, EXPIRED = 0, 1, 2, 3


class Waiter:
    __slots__ = ("future", "org", "since", "slot", "state", "timer")

    def __init__(self, slot: Slot, org: Flow, future: asyncio.Future[None], since: float) -> None:
        self.slot = slot
        self.org = org
        self.future = future
        self.since = since
        self.state = WAITING
        self.timer: asyncio.TimerHandle | None = None
