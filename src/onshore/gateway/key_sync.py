"""Keep the in-memory key snapshot in step with the database, off the request path.

Changes are polled by the database's key change sequence (``keys_changed_since_seq``), never by
time: a revocation written by a host whose clock is behind ours is applied all the same. The
store hands out change numbers under a row lock held until commit, so numbers become visible in
increasing order and "everything after the newest number seen" misses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from onshore.gateway.auth import KeyCache
from onshore.gateway.periodic import Periodic
from onshore.ports import RevocationBus, StoreError, TenancyStore

log = logging.getLogger(__name__)


class KeySync:
    def __init__(
        self,
        store: TenancyStore,
        cache: KeyCache,
        *,
        interval_s: float,
        bus: RevocationBus | None = None,
        notices: Mapping[str, Callable[[], Coroutine[Any, Any, None]]] | None = None,
    ):
        self._store = store
        # Other notices on the same bus (e.g. "limits"): a name here is never a key id.
        self._notices = dict(notices or {})
        self._cache = cache
        self._periodic = Periodic("onshore-key-sync", interval_s, self._poll)
        self._bus = bus
        self._seq: int | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.healthy = False

    async def load(self) -> None:
        """The first full load; the gateway does not serve before it."""
        await self.refresh()

    async def refresh(self) -> None:
        keys, seq = await asyncio.to_thread(self._store.keys_changed_since_seq, self._seq)
        if self._seq is None or any(not self._cache.knows_org(key.org_id) for key in keys):
            orgs = await asyncio.to_thread(self._store.list_orgs)
            self._cache.set_org_names({org.id: org.name for org in orgs})
        self._cache.apply(keys)
        self._seq = seq
        self.healthy = True

    async def refresh_key(self, key_id: str) -> None:
        key = await asyncio.to_thread(self._store.get_key, key_id)
        if key is None:
            self._cache.forget(key_id)
            return
        if not self._cache.knows_org(key.org_id):
            org = await asyncio.to_thread(self._store.get_org, key.org_id)
            if org is not None:
                self._cache.set_org_names({org.id: org.name})
        self._cache.apply([key])

    def forget(self, key_id: str) -> None:
        """Stop accepting a key on this replica now (it was revoked here)."""
        self._cache.forget(key_id)

    def start(self) -> None:
        self._periodic.start()
        if self._bus is not None:
            self._tasks.append(asyncio.create_task(self._listen(self._bus), name="onshore-key-bus"))

    async def stop(self) -> None:
        await self._periodic.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _poll(self) -> None:
        try:
            await self.refresh()
        except StoreError:
            if self.healthy:
                log.warning("key sync: database unreachable; serving from the last snapshot")
            self.healthy = False
        except Exception:
            self.healthy = False
            raise  # logged by the loop, which goes on

    async def _listen(self, bus: RevocationBus) -> None:
        def on_change(key_id: str) -> None:
            notice = self._notices.get(key_id)
            work = notice() if notice is not None else self._refresh_quietly(key_id)
            task = asyncio.get_running_loop().create_task(work)
            self._tasks.append(task)
            task.add_done_callback(self._tasks.remove)

        await bus.listen(on_change)

    async def _refresh_quietly(self, key_id: str) -> None:
        try:
            await self.refresh_key(key_id)
        except StoreError:
            # Polling picks it up; until then, a revoked key must not stay valid here: drop it.
            self._cache.forget(key_id)
