"""``RevocationBus`` on Redis pub/sub: a key change published by one replica reaches them all.

Pub/sub keeps no history, so a message sent while a replica is disconnected is lost to it; the
gateway's periodic ``keys_changed_since_seq`` poll is the safety net, and this bus only makes the
common case immediate. ``listen`` therefore never gives up: it reconnects with capped exponential
backoff and never lets a Redis error reach the server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from onshore.ports import StoreError

log = logging.getLogger(__name__)

DEFAULT_CHANNEL = "onshore:keys"


class _Stale(Exception):
    """The subscription stopped answering pings (a silently dropped connection)."""


class RedisRevocationBus:
    """Publish and receive key-change notices on one Redis channel.

    Args:
        url: ``redis://[:password@]host:port/db`` (``rediss://`` for TLS).
        channel: Replicas of one deployment must share it; tests use a unique one.
        reconnect_min_s: First pause after losing the subscription; doubled up to
            ``reconnect_max_s`` while Redis stays away.
        keepalive_s: How often an idle subscription is pinged; one that has not answered for
            three intervals is treated as dead and reconnected.
    """

    def __init__(
        self,
        url: str,
        channel: str = DEFAULT_CHANNEL,
        *,
        reconnect_min_s: float = 0.1,
        reconnect_max_s: float = 5.0,
        keepalive_s: float = 10.0,
    ) -> None:
        # Connections are opened lazily, on the first publish or subscribe, inside the event loop.
        self._client: Redis = Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
        self._channel = channel
        self._reconnect_min_s = reconnect_min_s
        self._reconnect_max_s = reconnect_max_s
        self._keepalive_s = keepalive_s
        self._closed = False

    async def publish(self, key_id: str) -> None:
        """Tell every listening replica that ``key_id`` changed.

        Raises:
            StoreError: Redis is unreachable (callers still apply the change locally).
        """
        try:
            try:
                await self._client.publish(self._channel, key_id)
            except RedisConnectionError:
                # A pooled connection that Redis closed (restart, idle timeout) fails on first use;
                # the pool has dropped it by now, so one more try goes out on a fresh connection.
                await self._client.publish(self._channel, key_id)
        except (RedisError, OSError) as exc:
            raise StoreError("publishing a key change to Redis failed") from exc

    async def listen(self, on_change: Callable[[str], None]) -> None:
        """Call ``on_change(key_id)`` for every notice until cancelled or ``aclose``; never raises
        for Redis trouble."""
        delay = self._reconnect_min_s
        while not self._closed:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                if delay > self._reconnect_min_s:
                    log.info("subscribed to the key-change channel again")
                delay = self._reconnect_min_s
                await self._receive(pubsub, on_change)
            except (RedisError, OSError, _Stale) as exc:
                if self._closed:
                    return
                # Warn when the channel is lost, not on every retry of a long outage.
                level = logging.WARNING if delay == self._reconnect_min_s else logging.DEBUG
                log.log(
                    level, "key-change channel lost (%s); reconnecting in %.1fs", type(exc).__name__, delay
                )
            finally:
                await _close_quietly(pubsub)
            if self._closed:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._reconnect_max_s)

    async def _receive(self, pubsub: PubSub, on_change: Callable[[str], None]) -> None:
        loop = asyncio.get_running_loop()
        last_heard = last_ping = loop.time()
        while not self._closed:
            # A short read timeout rather than blocking forever, so keepalives and aclose() are
            # noticed even on a silent channel.
            message: dict[str, Any] | None = await pubsub.get_message(
                ignore_subscribe_messages=True, timeout=1.0
            )
            now = loop.time()
            if message is not None:
                last_heard = now
                if message.get("type") == "message":
                    _deliver(message.get("data"), on_change)
            if now - last_heard > 3 * self._keepalive_s:
                raise _Stale
            if now - last_ping >= self._keepalive_s:
                await pubsub.ping()  # the answer arrives as a "pong" message above
                last_ping = now

    async def aclose(self) -> None:
        """Stop ``listen`` (within about a second) and close the connections."""
        self._closed = True
        await self._client.aclose()


def _deliver(data: object, on_change: Callable[[str], None]) -> None:
    key_id = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
    try:
        on_change(key_id)
    except Exception:
        log.exception("a key-change listener failed")


async def _close_quietly(pubsub: PubSub) -> None:
    try:
        # Through a typed name: redis-py < 8.2 leaves PubSub.aclose unannotated, 8.2 annotates it, and
        # a call site that satisfies mypy --strict with both needs no ``type: ignore``.
        close: Callable[[], Awaitable[None]] = pubsub.aclose
        await close()
    except (RedisError, OSError):
        log.debug("closing a broken key-change subscription failed", exc_info=True)
