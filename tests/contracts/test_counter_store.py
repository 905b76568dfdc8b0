"""The ``CounterStore`` contract (rate limits, token quotas, KRW budgets), run against every store.

The in-process store and the Redis one pass this same suite. Windows are timed by the store's own
clock: a ``ManualClock`` moved by hand for the in-process store, Redis's real clock for Redis, so
the tests that need a window to end use short windows and ``Harness.wait``, which does the right
thing for each. Each Redis store gets a namespace of its own on the shared server. Random
interleavings against a model: ``test_counter_store_properties.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from onshore.domain.counters import Counter, Reservation
from onshore.ports import CounterStore
from tests.support.counter_stores import Harness, open_store

MINUTE = 60_000
SHORT = 400  # ms: a window or ttl a test waits out (real time on Redis, so short but not tight)
Make = Callable[[], Harness]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def make(request: pytest.FixtureRequest) -> AsyncIterator[Make]:
    closers: list[Callable[[], Awaitable[None]]] = []

    def factory() -> Harness:
        harness, close = open_store(request.param)
        closers.append(close)
        return harness

    yield factory
    for close in closers:
        await close()


def rpm(key: str = "{org:a}:rpm", amount: int = 1, limit: int = 10, window_ms: int = MINUTE) -> Counter:
    return Counter(key, amount, limit, window_ms)


def gauge(key: str = "{org:a}:conc", amount: int = 1, limit: int = 2, ttl_ms: int = 0) -> Counter:
    return Counter(key, amount, limit, 0, ttl_ms)


async def used(store: CounterStore, *counters: Counter) -> list[int]:
    return [state.used for state in await store.used(counters)]


def held(admission_reservation: Reservation | None) -> Reservation:
    assert admission_reservation is not None, "expected a granted admission"
    return admission_reservation


async def test_reserve_grants_up_to_the_limit_and_refuses_past_it(make: Make) -> None:
    store = make().store
    first = await store.reserve([rpm(amount=6)])
    second = await store.reserve([rpm(amount=4)])
    refused = await store.reserve([rpm(amount=1)])
    assert first.granted and first.states[0].used == 6 and first.refused is None
    assert second.granted and second.states[0].used == 10 and second.states[0].limit == 10
    assert not refused.granted and refused.reservation is None and refused.refused == 0
    assert refused.states[0].used == 10
    assert 0 < refused.states[0].reset_ms <= MINUTE


async def test_a_refused_request_takes_nothing_from_the_other_counters(make: Make) -> None:
    store = make().store
    tokens = Counter("{org:a}:tpm", 500, 1000, MINUTE)
    budget = Counter("{org:a}:krw", 70, 100, 0)
    assert (await store.reserve([rpm(), budget])).granted

    refused = await store.reserve([rpm(), tokens, budget])

    assert not refused.granted and refused.refused == 2  # the first counter past its limit
    assert [s.used for s in refused.states] == [1, 0, 70]  # as they stand, nothing added
    assert await used(store, rpm(), tokens, budget) == [1, 0, 70]


async def test_an_empty_request_is_granted(make: Make) -> None:
    store = make().store
    admission = await store.reserve([])
    assert admission.granted and admission.states == ()
    await store.settle(held(admission.reservation), [])
    assert await store.used([]) == ()


async def test_keys_are_independent(make: Make) -> None:
    store = make().store
    assert (await store.reserve([rpm("{org:a}:rpm", 10)])).granted
    assert (await store.reserve([rpm("{org:b}:rpm", 10)])).granted
    assert not (await store.reserve([rpm("{org:a}:rpm")])).granted


async def test_used_reads_without_adding(make: Make) -> None:
    store = make().store
    assert await used(store, rpm(amount=5)) == [0]
    await store.reserve([rpm(amount=3)])
    states = await store.used([rpm(amount=5), gauge()])
    assert [s.used for s in states] == [3, 0] and [s.limit for s in states] == [10, 2]
    assert await used(store, rpm()) == [3]


async def test_settle_replaces_the_estimate_by_the_real_amount(make: Make) -> None:
    store = make().store
    tokens = Counter("{org:a}:tpm", 100, 1000, MINUTE)
    await store.settle(held((await store.reserve([tokens])).reservation), [30])  # down
    assert await used(store, tokens) == [30]
    await store.settle(held((await store.reserve([tokens])).reservation), [250])  # up
    assert await used(store, tokens) == [280]
    await store.settle(held((await store.reserve([tokens])).reservation), [0])  # released
    assert await used(store, tokens) == [280]


async def test_settle_applies_each_counter_its_own_amount(make: Make) -> None:
    store = make().store
    tokens = Counter("{org:a}:tpm", 100, 1000, MINUTE)
    budget = Counter("{org:a}:krw", 5_000, 100_000, 0)
    admission = await store.reserve([rpm(), tokens, budget, gauge()])
    await store.settle(held(admission.reservation), [1, 42, 1_234, 0])
    assert await used(store, rpm(), tokens, budget, gauge()) == [1, 42, 1_234, 0]


async def test_actual_usage_may_exceed_what_was_reserved(make: Make) -> None:
    store = make().store
    tokens = Counter("{org:a}:tpm", 10, 100, MINUTE)
    await store.settle(held((await store.reserve([tokens])).reservation), [150])
    assert await used(store, tokens) == [150]
    refused = await store.reserve([tokens])
    assert not refused.granted and refused.states[0].used == 150


async def test_milli_won_budgets_count_exactly_beyond_32_bits(make: Make) -> None:
    store = make().store
    budget = Counter("{org:a}:krw:2026-12", 3_000_000_000_123, 10_000_000_000_000, 0, 40 * 86_400_000)
    admission = await store.reserve([budget])
    assert admission.states[0].used == 3_000_000_000_123
    await store.settle(held(admission.reservation), [9_999_999_999_999])
    assert await used(store, budget) == [9_999_999_999_999]
    assert (await store.reserve([Counter(budget.key, 1, budget.limit, 0, budget.ttl_ms)])).granted
    assert not (await store.reserve([Counter(budget.key, 1, budget.limit, 0, budget.ttl_ms)])).granted


async def test_a_window_restarts_from_zero_once_it_ends(make: Make) -> None:
    harness = make()
    store = harness.store
    assert (await store.reserve([rpm(amount=5, limit=5, window_ms=SHORT)])).granted
    assert not (await store.reserve([rpm(limit=5, window_ms=SHORT)])).granted
    await harness.wait(SHORT)
    assert await used(store, rpm(window_ms=SHORT)) == [0]
    again = await store.reserve([rpm(amount=5, limit=5, window_ms=SHORT)])
    assert again.granted and again.states[0].used == 5


async def test_settling_a_reservation_from_an_ended_window_leaves_the_new_one_alone(make: Make) -> None:
    harness = make()
    store = harness.store
    old = await store.reserve([rpm(amount=5, window_ms=SHORT)])
    await harness.wait(SHORT)
    assert (await store.reserve([rpm(amount=2, window_ms=SHORT)])).granted
    await store.settle(held(old.reservation), [0])  # would take 5 off the new window if wrong
    await store.settle(held(old.reservation), [9])  # would add 4 if wrong
    assert await used(store, rpm(window_ms=SHORT)) == [2]


async def test_reset_ms_counts_down_to_the_end_of_the_window(make: Make) -> None:
    harness = make()
    store = harness.store
    first = await store.reserve([rpm(), gauge()])
    window, concurrency = first.states
    assert 0 < window.reset_ms <= MINUTE and concurrency.reset_ms == 0
    await harness.wait(200)
    later = (await store.reserve([rpm()])).states[0]
    assert later.reset_ms <= window.reset_ms - 200
    assert (await store.used([rpm()]))[0].reset_ms <= later.reset_ms
    assert (await store.used([rpm("{org:unused}:rpm")]))[0].reset_ms == 0  # no window open


async def test_a_gauge_counts_requests_in_flight(make: Make) -> None:
    store = make().store
    first = await store.reserve([gauge()])
    second = await store.reserve([gauge()])
    assert first.granted and second.granted and second.states[0].used == 2
    assert not (await store.reserve([gauge()])).granted
    await store.settle(held(first.reservation), [0])  # the request finished
    assert await used(store, gauge()) == [1]
    assert (await store.reserve([gauge()])).granted


async def test_a_gauge_back_at_zero_and_released_again_stays_at_zero(make: Make) -> None:
    store = make().store
    admission = await store.reserve([gauge()])
    await store.settle(held(admission.reservation), [0])
    await store.settle(held(admission.reservation), [0])  # a double release must not go negative
    assert await used(store, gauge()) == [0]
    assert (await store.reserve([gauge(amount=2)])).granted


async def test_a_gauge_with_a_ttl_is_forgotten_after_it(make: Make) -> None:
    harness = make()
    store = harness.store
    leaked = await store.reserve([gauge(limit=1, ttl_ms=SHORT)])  # a replica died holding it
    assert not (await store.reserve([gauge(limit=1, ttl_ms=SHORT)])).granted
    await harness.wait(SHORT)
    assert await used(store, gauge(ttl_ms=SHORT)) == [0]
    assert (await store.reserve([gauge(limit=1, ttl_ms=SHORT)])).granted
    await store.settle(held(leaked.reservation), [0])  # settles the new holder's count, not below 0
    assert await used(store, gauge(ttl_ms=SHORT)) == [0]


async def test_a_gauge_without_a_ttl_is_kept(make: Make) -> None:
    harness = make()
    await harness.store.reserve([gauge()])
    await harness.wait(SHORT)
    assert await used(harness.store, gauge()) == [1]


async def test_concurrent_reservations_never_overrun_the_limit(make: Make) -> None:
    store = make().store
    tokens = Counter("{org:a}:tpm", 7, 10_000, MINUTE)
    results = await asyncio.gather(*(store.reserve([rpm(limit=50), tokens]) for _ in range(200)))
    assert sum(r.granted for r in results) == 50
    assert await used(store, rpm(), tokens) == [50, 350]


async def test_settle_later_applies_once_drained(make: Make) -> None:
    store = make().store
    tokens = Counter("{org:a}:tpm", 100, 1000, MINUTE)
    store.settle_later(held((await store.reserve([rpm(), tokens, gauge()])).reservation), [1, 30, 0])
    await store.drain()
    assert await used(store, rpm(), tokens, gauge()) == [1, 30, 0]


async def test_many_concurrent_requests_each_count_and_settle_on_their_own(make: Make) -> None:
    # Arriving together they may share one round trip (the Redis store batches them): each is
    # still checked all or nothing on its own, in turn, and each settlement applies to its own.
    store = make().store
    tokens = Counter("{org:a}:tpm", 10, 1_000, MINUTE)
    small = Counter("{org:b}:tpm", 10, 25, MINUTE)  # room for two of them
    asks = [[rpm(limit=1_000), tokens], [rpm("{org:b}:rpm", limit=1_000), small]] * 20
    results = await asyncio.gather(*(store.reserve(counters) for counters in asks))
    assert sum(r.granted for r in results[0::2]) == 20
    assert sum(r.granted for r in results[1::2]) == 2
    for result in results:
        if result.reservation is not None:
            store.settle_later(result.reservation, [1, 4])
    await store.drain()
    assert await used(store, rpm(), tokens, rpm("{org:b}:rpm"), small) == [20, 80, 2, 8]


async def test_bad_arguments_are_refused(make: Make) -> None:
    store = make().store
    for bad in (
        Counter("k", -1, 10, MINUTE),
        Counter("k", 1, -1, MINUTE),
        Counter("k", 1, 10, -1),
        Counter("k", 1, 10, 0, -1),
    ):
        with pytest.raises(ValueError):
            await store.reserve([rpm("{org:a}:ok"), bad])
    with pytest.raises(ValueError):
        await store.reserve([rpm(), rpm()])  # one key twice
    with pytest.raises(ValueError):
        await store.used([Counter("k", 0, -1, MINUTE)])
    admission = await store.reserve([rpm(), gauge()])
    with pytest.raises(ValueError):
        await store.settle(held(admission.reservation), [1])
    with pytest.raises(ValueError):
        await store.settle(held(admission.reservation), [1, -1])
    assert await used(store, rpm("{org:a}:ok"), rpm(), gauge()) == [0, 1, 1]  # nothing half-done


# --- raise_to: monthly counters brought back to the ledger's totals ------------------------------


def month(key: str = "{org:a}:mt:2026-12", limit: int = 1_000, ttl_ms: int = 0) -> Counter:
    return Counter(key, 0, limit, 0, ttl_ms)


async def test_raise_to_sets_a_floor_and_never_lowers(make: Make) -> None:
    store = make().store
    budget = month("{org:a}:krw:2026-12", limit=10**15)
    await store.raise_to([(month(), 300), (budget, 2**40)])  # missing: created at their floors
    assert await used(store, month(), budget) == [300, 2**40]

    await store.raise_to([(month(), 200), (budget, 2**40 + 1)])  # lower: kept; higher: raised
    assert await used(store, month(), budget) == [300, 2**40 + 1]

    await store.raise_to([(month("{org:b}:mt:2026-12"), 0)])  # a floor of 0 creates nothing
    await store.raise_to([])
    assert await used(store, month("{org:b}:mt:2026-12")) == [0]


async def test_the_higher_of_a_repeated_key_wins(make: Make) -> None:
    store = make().store
    await store.raise_to([(month(), 50), (month(), 70), (month(), 60)])
    assert await used(store, month()) == [70]


async def test_a_raised_counter_binds_and_reservations_held_across_the_raise_still_settle(
    make: Make,
) -> None:
    store = make().store
    admission = await store.reserve([Counter("{org:a}:mt:2026-12", 100, 1_000)])  # in flight

    await store.raise_to([(month(), 950)])  # the ledger says more was used this month

    assert not (await store.reserve([Counter("{org:a}:mt:2026-12", 51, 1_000)])).granted
    assert (await store.reserve([Counter("{org:a}:mt:2026-12", 50, 1_000)])).granted
    await store.settle(held(admission.reservation), [30])  # what it held (100) becomes 30
    assert await used(store, month()) == [930]


async def test_a_counter_at_or_above_its_floor_is_left_as_it_is(make: Make) -> None:
    harness = make()
    store = harness.store
    counter = Counter("{org:a}:mt:2026-12", 500, 1_000, 0, SHORT)
    await store.reserve([counter])
    await harness.wait(SHORT // 2)

    await store.raise_to([(month(ttl_ms=SHORT), 500)])  # equal: its ttl is not refreshed either

    await harness.wait(SHORT // 2 + 50)
    assert await used(store, month()) == [0]


async def test_a_raised_gauge_lives_its_ttl_from_the_raise(make: Make) -> None:
    harness = make()
    store = harness.store
    await store.raise_to([(month(ttl_ms=SHORT), 10)])
    await harness.wait(SHORT // 2)
    await store.raise_to([(month(ttl_ms=SHORT), 20)])  # raised: the ttl starts again
    await harness.wait(SHORT // 2 + 50)
    assert await used(store, month()) == [20]
    await harness.wait(SHORT // 2)
    assert await used(store, month()) == [0]


async def test_raise_to_refuses_windows_and_negative_floors_and_changes_nothing(make: Make) -> None:
    store = make().store
    for bad in ((rpm(), 5), (month(), -1), (month(ttl_ms=-1), 5)):
        with pytest.raises(ValueError):
            await store.raise_to([(month("{org:a}:ok"), 5), bad])
    assert await used(store, month("{org:a}:ok"), rpm(), month()) == [0, 0, 0]
