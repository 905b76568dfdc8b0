from __future__ import annotations

from onshore.domain.catalog import ModelRoute
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
