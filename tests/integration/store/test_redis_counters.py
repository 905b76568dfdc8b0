"""``RedisCounterStore`` against Redis outages, and how it lays counters out in Redis.

The shared semantics are the contract suite's (tests/contracts/test_counter_store.py). Here each
test starts a Redis of its own on a free port (never the shared one, which other tests use) so it
can stop, freeze and restart it; the server is stopped by its PID when the test ends.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Iterator
from pathlib import Path

import pytest
from tests.support.redis_server import RedisServer
from tests.support.services import free_port

from onshore.domain.counters import Counter, Held, Reservation
from onshore.ports import StoreError
from onshore.store.state.counters import RedisCounterStore

TIMEOUT_S = 0.1
RPM = Counter("{org:a}:rpm", 1, 100, 60_000)
CONCURRENT = Counter("{org:a}:conc", 1, 10, 0, 30_000)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(workdir=tmp_path).start()
    yield server
    server.stop()


async def elapsed_raising_store_error(call: Awaitable[object]) -> float:
    started = time.monotonic()
    with pytest.raises(StoreError):
        await call
    return time.monotonic() - started


async def test_an_unreachable_redis_is_a_store_error_within_the_timeout() -> None:
    store = RedisCounterStore(f"redis://127.0.0.1:{free_port()}/0", timeout_s=TIMEOUT_S)
    held = Reservation((Held(RPM.key, 0, 1),))
    for call in (store.reserve([RPM]), store.settle(held, [0]), store.used([RPM])):
        assert await elapsed_raising_store_error(call) < 1.0
    await store.aclose()


async def test_a_hung_redis_is_given_up_within_the_timeout_and_used_again_when_it_answers(
    own_redis: RedisServer,
) -> None:
    store = RedisCounterStore(own_redis.url, timeout_s=TIMEOUT_S)
    assert (await store.reserve([RPM])).granted
    own_redis.freeze()
    try:
        assert await elapsed_raising_store_error(store.reserve([RPM])) < 1.0
        assert await elapsed_raising_store_error(store.used([RPM])) < 1.0
    finally:
        own_redis.thaw()
    assert (await store.reserve([RPM])).granted
    # A reserve that timed out may still have run once Redis woke (it had reached the socket):
    # the error is on the strict side, never a lost count.
    assert (await store.used([RPM]))[0].used in (2, 3)
    await store.aclose()


async def test_redis_stopped_mid_use_fails_fast_and_the_store_recovers_when_it_returns(
    own_redis: RedisServer,
) -> None:
    store = RedisCounterStore(own_redis.url, timeout_s=TIMEOUT_S)
    admission = await store.reserve([RPM, CONCURRENT])
    assert admission.granted and admission.reservation is not None

    own_redis.stop()
    assert await elapsed_raising_store_error(store.reserve([RPM])) < 1.0
    assert await elapsed_raising_store_error(store.settle(admission.reservation, [1, 0])) < 1.0
    assert await elapsed_raising_store_error(store.used([RPM])) < 1.0

    own_redis.start()  # same port, empty: no persistence
    again = await store.reserve([RPM, CONCURRENT])
    assert again.granted and [s.used for s in again.states] == [1, 1]
    await store.settle(admission.reservation, [1, 0])  # from before the restart: its window is gone
    assert [s.used for s in await store.used([RPM, CONCURRENT])] == [1, 0]
    await store.aclose()


async def test_pooled_connections_closed_by_a_restart_are_replaced_before_use(
    own_redis: RedisServer,
) -> None:
    store = RedisCounterStore(own_redis.url, timeout_s=TIMEOUT_S)
    for _ in range(3):  # leave a connection in the pool
        assert (await store.reserve([RPM])).granted
    own_redis.stop()
    own_redis.start()
    for _ in range(3):  # no call fails: the pool notices the closed socket and reconnects
        assert (await store.reserve([RPM])).granted
    await store.aclose()


async def test_scripts_are_loaded_again_after_a_script_flush(own_redis: RedisServer) -> None:
    store = RedisCounterStore(own_redis.url, timeout_s=1.0)
    assert (await store.reserve([RPM])).granted
    own_redis.client().script_flush()
    assert (await store.reserve([RPM])).granted
    assert (await store.used([RPM]))[0].used == 2
    await store.aclose()


async def test_counters_are_namespaced_hashes_that_expire_with_their_window(own_redis: RedisServer) -> None:
    store = RedisCounterStore(own_redis.url, namespace="ns:", timeout_s=1.0)
    kept = Counter("{org:a}:kept", 1, 10, 0)
    admission = await store.reserve([RPM, CONCURRENT, kept])
    assert admission.reservation is not None
    client = own_redis.client()
    assert sorted(client.keys("*")) == [b"ns:{org:a}:conc", b"ns:{org:a}:kept", b"ns:{org:a}:rpm"]
    window_end = admission.reservation.held[0].window_end_ms
    assert client.hgetall("ns:{org:a}:rpm") == {b"n": b"1", b"e": str(window_end).encode()}
    assert 59_000 < client.pttl("ns:{org:a}:rpm") <= 60_000
    assert client.pexpiretime("ns:{org:a}:rpm") == window_end
    assert 29_000 < client.pttl("ns:{org:a}:conc") <= 30_000  # a gauge's ttl, from its last change
    assert client.pttl("ns:{org:a}:kept") == -1  # no ttl: kept until settled to zero
    await store.settle(admission.reservation, [1, 0, 0])
    assert sorted(client.keys("*")) == [b"ns:{org:a}:rpm"]  # gauges at zero are deleted
    await store.aclose()


def test_a_namespace_cannot_take_the_callers_hash_tag() -> None:
    with pytest.raises(ValueError):
        RedisCounterStore("redis://127.0.0.1:6379/0", namespace="{onshore}:")


async def test_a_caller_cancelled_while_redis_answers_strands_nothing(own_redis: RedisServer) -> None:
    # A client that leaves while its reservation is on the wire: Redis counts it, nobody will ever
    # settle it, so the store gives it back itself (else a concurrency place stays taken for its TTL).
    store = RedisCounterStore(own_redis.url, timeout_s=1.0)
    assert (await store.reserve([RPM])).granted  # connected and the script loaded
    own_redis.freeze()
    waiting = asyncio.ensure_future(store.reserve([CONCURRENT]))
    await asyncio.sleep(0.05)  # on the wire, unanswered
    waiting.cancel()
    own_redis.thaw()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await store.drain()
    assert (await store.used([CONCURRENT]))[0].used == 0
    await store.aclose()


async def test_errors_of_settlements_nobody_waits_for_are_reported(own_redis: RedisServer) -> None:
    reported: list[str] = []
    store = RedisCounterStore(own_redis.url, timeout_s=TIMEOUT_S, on_error=reported.append)
    admission = await store.reserve([CONCURRENT])
    assert admission.reservation is not None
    own_redis.freeze()
    try:
        store.settle_later(admission.reservation, [0])
        await store.drain()
    finally:
        own_redis.thaw()
    assert reported == ["settle_failed"]
    await store.aclose()


def test_a_reservation_never_waits_for_the_settlement_timer_on_uvloop(own_redis: RedisServer) -> None:
    # Found by measuring: on uvloop (what uvicorn runs) a timer handle is not asyncio.TimerHandle,
    # and a reservation queued behind a pending settlement timer waited for it (20 ms each at c=1).
    import uvloop

    async def scenario() -> float:
        store = RedisCounterStore(own_redis.url, timeout_s=1.0, settle_delay_s=5.0)
        admission = await store.reserve([CONCURRENT])
        assert admission.reservation is not None
        store.settle_later(admission.reservation, [0])  # queued behind a 5 s timer
        started = time.monotonic()
        assert (await store.reserve([RPM])).granted  # goes now, and takes the settlement along
        took = time.monotonic() - started
        assert (await store.used([CONCURRENT]))[0].used == 0
        await store.aclose()
        return took

    assert uvloop.run(scenario()) < 2.0
