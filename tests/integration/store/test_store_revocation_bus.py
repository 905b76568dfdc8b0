"""One contract for every RevocationBus: the in-process default and Redis pub/sub."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio

from onshore.ports import RevocationBus, StoreError
from onshore.store.state import InProcessRevocationBus, RedisRevocationBus

WARMUP = "warmup"


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[RevocationBus]:
    if request.param == "memory":
        implementation: RevocationBus = InProcessRevocationBus()
    else:
        url = request.getfixturevalue("redis_url")
        implementation = RedisRevocationBus(url, channel=f"onshore:test:{secrets.token_hex(6)}")
    yield implementation
    await implementation.aclose()


async def eventually(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110  # the condition is another task's side effect
            await asyncio.sleep(0.01)


async def listening(bus: RevocationBus, received: list[str]) -> asyncio.Task[None]:
    """Start a listener and wait until it is subscribed.

    Pub/sub keeps no history: a message published before the subscription is live is not seen,
    so publish a marker until it arrives.
    """
    task = asyncio.create_task(bus.listen(received.append))
    async with asyncio.timeout(5):
        while WARMUP not in received:
            await bus.publish(WARMUP)
            await asyncio.sleep(0.02)
    return task


def real(received: list[str]) -> list[str]:
    return [key for key in received if key != WARMUP]


async def stop(*tasks: asyncio.Task[None]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_published_ids_reach_the_listener_in_order(bus: RevocationBus) -> None:
    received: list[str] = []
    task = await listening(bus, received)

    for key_id in ("key_1", "key_2", "key_3"):
        await bus.publish(key_id)

    await eventually(lambda: len(real(received)) == 3)
    assert real(received) == ["key_1", "key_2", "key_3"]
    await stop(task)


async def test_every_listener_gets_every_message(bus: RevocationBus) -> None:
    first: list[str] = []
    second: list[str] = []
    tasks = [await listening(bus, first), await listening(bus, second)]

    await bus.publish("key_9")

    await eventually(lambda: real(first) == ["key_9"] and real(second) == ["key_9"])
    await stop(*tasks)


async def test_a_failing_callback_does_not_stop_the_listener(bus: RevocationBus) -> None:
    received: list[str] = []

    def on_change(key_id: str) -> None:
        if key_id == "boom":
            raise RuntimeError("listener bug")
        received.append(key_id)

    task = asyncio.create_task(bus.listen(on_change))
    async with asyncio.timeout(5):
        while WARMUP not in received:
            await bus.publish(WARMUP)
            await asyncio.sleep(0.02)

    await bus.publish("boom")
    await bus.publish("after")

    await eventually(lambda: "after" in received)
    assert not task.done()
    await stop(task)


async def test_aclose_ends_listen(bus: RevocationBus) -> None:
    received: list[str] = []
    task = await listening(bus, received)

    await bus.aclose()

    async with asyncio.timeout(5):
        await task


@pytest.mark.redis
async def test_replicas_sharing_a_channel_hear_each_other(redis_url: str) -> None:
    channel = f"onshore:test:{secrets.token_hex(6)}"
    replica_a = RedisRevocationBus(redis_url, channel=channel)
    replica_b = RedisRevocationBus(redis_url, channel=channel)
    heard_by_b: list[str] = []
    try:
        task = asyncio.create_task(replica_b.listen(heard_by_b.append))
        async with asyncio.timeout(5):
            while WARMUP not in heard_by_b:
                await replica_a.publish(WARMUP)
                await asyncio.sleep(0.02)
        await replica_a.publish("key_from_a")
        await eventually(lambda: "key_from_a" in heard_by_b)
        await stop(task)
    finally:
        await replica_a.aclose()
        await replica_b.aclose()


@pytest.mark.redis
async def test_listener_resubscribes_after_its_connection_is_killed(redis_url: str) -> None:
    name = f"onshore-test-{secrets.token_hex(6)}"
    channel = f"onshore:test:{secrets.token_hex(6)}"
    separator = "&" if "?" in redis_url else "?"
    bus = RedisRevocationBus(f"{redis_url}{separator}client_name={name}", channel=channel)
    admin = redis.asyncio.Redis.from_url(redis_url)
    received: list[str] = []
    try:
        task = await listening(bus, received)
        # Kill only this test's connections (others may share the Redis server).
        clients = await admin.client_list()
        killed = 0
        for client in clients:
            if client.get("name") == name:
                killed += await admin.client_kill_filter(_id=client["id"])
        assert killed >= 1

        async with asyncio.timeout(10):
            while "after-kill" not in received:
                await bus.publish("after-kill")
                await asyncio.sleep(0.05)
        assert not task.done()
        await stop(task)
    finally:
        await bus.aclose()
        await admin.aclose()


async def test_unreachable_redis_publish_raises_store_error_and_listen_keeps_trying() -> None:
    bus = RedisRevocationBus("redis://127.0.0.1:1/0", reconnect_min_s=0.01, reconnect_max_s=0.05)
    try:
        with pytest.raises(StoreError):
            await bus.publish("key_1")
        task = asyncio.create_task(bus.listen(lambda _key: None))
        await asyncio.sleep(0.3)
        assert not task.done()  # still retrying, never crashed
        await stop(task)
    finally:
        await bus.aclose()


async def test_in_process_publish_is_delivered_before_it_returns() -> None:
    bus = InProcessRevocationBus()
    received: list[str] = []
    task = asyncio.create_task(bus.listen(received.append))
    await asyncio.sleep(0)

    await bus.publish("key_1")

    assert received == ["key_1"]
    await stop(task)
    await bus.publish("key_2")  # no listeners: nothing happens
    assert received == ["key_1"]
