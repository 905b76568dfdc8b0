from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onshore.domain.catalog import ModelRoute
from onshore.errors import ResidencyRefused
from onshore.gateway.routing import Router
from onshore.ports import BackendCall, BackendReply


class FakeBackend:
    kind = "fake"

    def __init__(self, name: str):
        self.name = name

    async def start(self) -> None: ...
    async def aclose(self) -> None: ...
    async def check_health(self) -> bool:
        return True

    async def send(self, call: BackendCall) -> BackendReply:  # pragma: no cover - not used here
        raise NotImplementedError


def _router(*names: str) -> Router:
    return Router([FakeBackend(n) for n in names], [ModelRoute("m", "m", n) for n in names])


def test_round_robin_on_ties() -> None:
    router = _router("a", "b", "c")
    assert [router.choose("m").route.backend for _ in range(6)] == ["a", "b", "c", "a", "b", "c"]


def test_least_in_flight_wins() -> None:
    router = _router("a", "b")
    router.states["a"].in_flight = 5
    assert {router.choose("m").route.backend for _ in range(4)} == {"b"}


def test_failed_backend_is_skipped_until_it_recovers() -> None:
    router = _router("a", "b")
    router.mark_failed(router.states["a"])
    assert {router.choose("m").route.backend for _ in range(4)} == {"b"}
    router.mark_ok(router.states["a"])
    assert {router.choose("m").route.backend for _ in range(4)} == {"a", "b"}


def test_all_down_still_tries_one() -> None:
    router = _router("a", "b")
    for state in router.states.values():
        router.mark_failed(state)
    assert router.choose("m").route.backend in {"a", "b"}


def test_excluded_backends_are_not_chosen() -> None:
    router = _router("a", "b")
    assert {router.choose("m", frozenset({"a"})).route.backend for _ in range(3)} == {"b"}


# --- residency: a filter, never a preference --------------------------------------------------------

_PLACES = ("KR", "JP", "US")


@given(
    places=st.lists(st.sampled_from(_PLACES), min_size=1, max_size=6),
    down=st.lists(st.booleans(), min_size=6, max_size=6),
    in_flight=st.lists(st.integers(0, 3), min_size=6, max_size=6),
    allowed=st.sets(st.sampled_from(_PLACES), max_size=3),
    tried=st.sets(st.integers(0, 5), max_size=6),
)
def test_choose_never_leaves_the_allowed_jurisdictions(
    places: list[str], down: list[bool], in_flight: list[int], allowed: set[str], tried: set[int]
) -> None:
    names = [f"b{i}" for i in range(len(places))]
    router = Router(
        [FakeBackend(n) for n in names],
        [ModelRoute("m", "m", n, jurisdiction=p) for n, p in zip(names, places, strict=True)],
    )
    for i, name in enumerate(names):
        state = router.states[name]
        state.in_flight = in_flight[i]
        state.down_since = 0.0 if down[i] else None
    exclude = frozenset(names[i] for i in tried if i < len(names))
    permitted = frozenset(allowed)
    inside = [n for n, p in zip(names, places, strict=True) if p in permitted]
    assert router.serves_within("m", permitted) == bool(inside)
    assert router.confined("m", permitted) == (len(inside) < len(names))
    if not inside:
        with pytest.raises(ResidencyRefused):
            router.choose("m", exclude, permitted)
        return
    for _ in range(4):
        assert router.choose("m", exclude, permitted).route.jurisdiction in permitted
    assert router.has_untried("m", exclude, permitted) == any(
        n not in exclude and router.states[n].healthy for n in inside
    )
