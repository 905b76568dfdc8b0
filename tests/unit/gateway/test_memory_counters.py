"""What only the in-process ``CounterStore`` has to show: its memory stays bounded.

Everything the port promises is in the contract suite (tests/contracts/test_counter_store.py).
"""

from __future__ import annotations

import pytest

from onshore.domain.counters import Counter
from onshore.gateway.memory import MemoryCounterStore
from onshore.ports import StoreError
from tests.support.fakes import ManualClock


def window(name: str, amount: int = 1) -> Counter:
    return Counter("{org:a}:" + name, amount, 100, 1_000)


def gauge(name: str) -> Counter:
    return Counter("{org:a}:" + name, 1, 100, 0)


async def test_a_full_table_refuses_new_keys_whole_and_takes_them_again_once_windows_end() -> None:
    clock = ManualClock()
    store = MemoryCounterStore(clock, max_keys=3)
    for name in ("a", "b", "c"):
        assert (await store.reserve([window(name)])).granted

    with pytest.raises(StoreError):
        await store.reserve([window("a"), window("d")])
    assert [s.used for s in await store.used([window("a"), window("d")])] == [1, 0]  # all or none
    assert (await store.reserve([window("a")])).granted  # known keys still count

    clock.advance(1.0)  # every window has ended, and the next sweep may run: their places are free
    assert (await store.reserve([window("d"), window("e"), window("f")])).granted


async def test_a_gauge_settled_to_zero_gives_its_place_back_at_once() -> None:
    store = MemoryCounterStore(ManualClock(), max_keys=2)
    first = await store.reserve([gauge("x")])
    await store.reserve([gauge("y")])
    with pytest.raises(StoreError):
        await store.reserve([gauge("z")])
    assert first.reservation is not None
    await store.settle(first.reservation, [0])
    assert (await store.reserve([gauge("z")])).granted  # no sweep needed, not even a second later


async def test_ended_windows_do_not_pile_up() -> None:
    clock = ManualClock()
    store = MemoryCounterStore(clock)
    for i in range(20_000):  # one key per request, each window over before the next
        await store.reserve([Counter(f"{{org:{i}}}:rpm", 1, 10, 1)])
        clock.advance(0.001)
    # The table is swept whenever it doubles: never more than twice the live keys plus the floor.
    assert len(store._counts) <= 2 * 1 + 1024
