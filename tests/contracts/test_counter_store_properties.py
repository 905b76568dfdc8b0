"""Random interleavings of reserve, settle and cancel keep every store's accounts exact.

A model holds what each counter should read: the amounts still held plus the actual amounts of
settled requests. After every step the store's ``used`` must equal it, every admission must be the
one the model predicts (all granted, or the first counter past its limit refused with nothing
counted), and a counter can pass its limit only by what settled requests used beyond what they
held. Windows are a minute long, so none ends inside an example (the contract suite covers that).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onshore.domain.counters import Counter, Reservation
from tests.support.counter_stores import open_store

# key, limit, window_ms, ttl_ms: a request rate and a token window, a concurrency gauge and a
# budget gauge with a ttl (one that never passes during an example).
SHAPES = (
    ("{org:p}:rpm", 12, 60_000, 0),
    ("{org:p}:tpm", 40, 60_000, 0),
    ("{org:p}:conc", 3, 0, 0),
    ("{org:p}:krw", 50, 0, 3_600_000),
)

_amounts = st.lists(st.integers(0, 25), min_size=len(SHAPES), max_size=len(SHAPES))
_reserve = st.tuples(
    st.just("reserve"), st.lists(st.sampled_from(range(len(SHAPES))), unique=True, max_size=4), _amounts
)
_settle = st.tuples(st.just("settle"), st.integers(0, 40), _amounts)
_cancel = st.tuples(st.just("cancel"), st.integers(0, 40), st.just([0] * len(SHAPES)))
_ops = st.lists(st.one_of(_reserve, _reserve, _settle, _cancel), max_size=40)


def counter(index: int, amount: int) -> Counter:
    key, limit, window_ms, ttl_ms = SHAPES[index]
    return Counter(key, amount, limit, window_ms, ttl_ms)


@dataclass
class Model:
    used: list[int] = field(default_factory=lambda: [0] * len(SHAPES))
    beyond: list[int] = field(default_factory=lambda: [0] * len(SHAPES))  # settled above held
    open: list[tuple[Reservation, list[int]]] = field(default_factory=list)  # with counter indexes


async def play(kind: str, ops: list[tuple[str, object, list[int]]]) -> None:
    harness, close = open_store(kind)
    store, model = harness.store, Model()
    everything = [counter(i, 0) for i in range(len(SHAPES))]
    try:
        for op, target, amounts in ops:
            if op == "reserve":
                assert isinstance(target, list)
                asked = [counter(i, amounts[i]) for i in target]
                admission = await store.reserve(asked)
                failing = [n for n, i in enumerate(target) if model.used[i] + amounts[i] > SHAPES[i][1]]
                assert admission.granted == (not failing)
                assert admission.refused == (failing[0] if failing else None)
                if admission.granted:
                    assert admission.reservation is not None
                    for i in target:
                        model.used[i] += amounts[i]
                    model.open.append((admission.reservation, target))
                assert [s.used for s in admission.states] == [model.used[i] for i in target]
            elif model.open:
                assert isinstance(target, int)
                reservation, indexes = model.open.pop(target % len(model.open))
                actual = [amounts[i] for i in indexes]
                await store.settle(reservation, actual)
                for i, held, real in zip(indexes, reservation.held, actual, strict=True):
                    model.used[i] += real - held.amount
                    model.beyond[i] += max(0, real - held.amount)
            assert [s.used for s in await store.used(everything)] == model.used
            for i, (_, limit, _, _) in enumerate(SHAPES):
                assert model.used[i] <= limit + model.beyond[i]
    finally:
        await close()


@pytest.mark.parametrize(
    ("kind", "examples"), [("memory", 300), pytest.param("redis", 30, marks=pytest.mark.redis)]
)
def test_random_interleavings_keep_the_accounts_exact(kind: str, examples: int) -> None:
    # Each example gets a fresh store in a fresh event loop (asyncio.run): nothing leaks between
    # examples, and a Redis store connects inside the loop that uses it.
    @settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(ops=_ops)
    def check(ops: list[tuple[str, object, list[int]]]) -> None:
        asyncio.run(play(kind, ops))

    check()
