"""The ``CounterStore`` contract (limits, token and KRW budgets), run against every implementation.

The in-process store is the only one today; the admission issue adds the Redis one, which must pass
this same suite unchanged (add it to the ``store`` fixture).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from onshore.gateway.memory import MemoryCounterStore
from onshore.ports import CounterStore
from tests.support.fakes import ManualClock

Factory = Callable[[ManualClock], CounterStore]


@pytest.fixture(params=["memory"])
def make(request: pytest.FixtureRequest) -> Factory:
    return MemoryCounterStore


async def test_reserve_grants_up_to_the_limit_and_refuses_past_it(make: Factory) -> None:
    store = make(ManualClock())
    first = await store.reserve("org:a", 6, 10, 60)
    second = await store.reserve("org:a", 4, 10, 60)
    refused = await store.reserve("org:a", 1, 10, 60)
    assert first.granted and second.granted and second.used == 10
    assert not refused.granted and refused.reservation is None and refused.used == 10
    assert 0 < refused.retry_after_s <= 60


async def test_keys_are_independent(make: Factory) -> None:
    store = make(ManualClock())
    await store.reserve("org:a", 10, 10, 60)
    assert (await store.reserve("org:b", 10, 10, 60)).granted


async def test_settle_replaces_the_estimate_by_the_real_amount(make: Factory) -> None:
    store = make(ManualClock())
    admission = await store.reserve("tokens:a", 100, 1000, 60)
    assert admission.reservation is not None
    await store.settle(admission.reservation, 30)
    assert await store.used("tokens:a", 60) == 30
    await store.settle((await store.reserve("tokens:a", 50, 1000, 60)).reservation, 0)  # type: ignore[arg-type]
    assert await store.used("tokens:a", 60) == 30


async def test_actual_usage_may_exceed_what_was_reserved(make: Factory) -> None:
    store = make(ManualClock())
    admission = await store.reserve("tokens:a", 10, 100, 60)
    assert admission.reservation is not None
    await store.settle(admission.reservation, 150)
    assert await store.used("tokens:a", 60) == 150
    assert not (await store.reserve("tokens:a", 1, 100, 60)).granted


async def test_a_new_window_starts_from_zero(make: Factory) -> None:
    clock = ManualClock()
    store = make(clock)
    await store.reserve("rpm:a", 5, 5, 60)
    assert not (await store.reserve("rpm:a", 1, 5, 60)).granted
    clock.advance(60)
    assert (await store.reserve("rpm:a", 5, 5, 60)).granted


async def test_settling_a_past_window_does_not_touch_the_current_one(make: Factory) -> None:
    clock = ManualClock()
    store = make(clock)
    old = await store.reserve("rpm:a", 5, 5, 60)
    clock.advance(60)
    await store.reserve("rpm:a", 2, 5, 60)
    assert old.reservation is not None
    await store.settle(old.reservation, 0)
    assert await store.used("rpm:a", 60) == 2


async def test_concurrent_reservations_never_overrun_the_limit(make: Factory) -> None:
    store = make(ManualClock())
    results = await asyncio.gather(*(store.reserve("org:a", 1, 50, 60) for _ in range(200)))
    assert sum(r.granted for r in results) == 50
    assert await store.used("org:a", 60) == 50


async def test_bad_arguments_are_refused(make: Factory) -> None:
    store = make(ManualClock())
    with pytest.raises(ValueError):
        await store.reserve("org:a", -1, 10, 60)
    with pytest.raises(ValueError):
        await store.reserve("org:a", 1, 10, 0)
