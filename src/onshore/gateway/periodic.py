"""One background task that does the same work at a fixed interval until it is stopped.

The key sync, the limit sync, the quota reseed and the backend prober all poll; this is their loop,
written once. ``work`` reports its own expected failures (a database that is away); anything else
it raises is logged and the loop goes on, so one bad pass never ends the polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Periodic:
    def __init__(self, name: str, interval_s: float, work: Callable[[], Awaitable[None]]) -> None:
        self._name = name
        self._interval = interval_s
        self._work = work
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the loop (the first pass after one interval); starting twice changes nothing."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self._work()
            except Exception:
                log.exception("%s failed; it runs again in %.1fs", self._name, self._interval)
