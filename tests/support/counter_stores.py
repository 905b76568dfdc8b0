"""Fresh ``CounterStore`` instances of every kind for the contract suite, each with its own clock.

Windows are timed by the store's own clock: a ``ManualClock`` moved by hand for the in-process
store, Redis's real clock for Redis, so ``Harness.wait`` advances the one or sleeps for the other.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from onshore.gateway.memory import MemoryCounterStore
from onshore.ports import CounterStore
from onshore.store.state.counters import RedisCounterStore
from tests.support.fakes import ManualClock
from tests.support.services import redis_available


@dataclass
class Harness:
    store: CounterStore
    wait: Callable[[int], Awaitable[None]]  # let this many ms of the store's clock pass


def open_store(kind: str) -> tuple[Harness, Callable[[], Awaitable[None]]]:
    """A fresh, empty store of one kind and how to close it; usable in any event loop, since a
    Redis store connects on its first call. Skips (fails under CI=true) without Redis."""
    if kind == "memory":
        clock = ManualClock()

        async def advance(ms: int) -> None:
            clock.advance(ms / 1000)

        async def nothing() -> None:
            return None

        return Harness(MemoryCounterStore(clock), advance), nothing

    # A unique namespace isolates this store on the shared server. A generous timeout: the
    # contract is about semantics on a busy test machine, not outages (the integration tests in
    # tests/integration/store/test_redis_counters.py time those).
    store = RedisCounterStore(redis_available(), namespace=f"onshore:test:{uuid.uuid4().hex}:", timeout_s=5)

    async def sleep(ms: int) -> None:
        await asyncio.sleep(ms / 1000 + 0.05)  # Redis expires keys to the millisecond

    return Harness(store, sleep), store.aclose
