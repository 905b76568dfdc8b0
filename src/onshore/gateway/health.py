"""Bring failed backends back: probe the ones marked down, and mark them up when they answer.

Only backends marked down are probed: a healthy backend proves itself on every request. What the
probe asks is the backend's own business (``Backend.check_health``): remote engines are asked a
one-token inference, since an engine can list its models and still fail every request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from onshore.gateway.routing import Router

log = logging.getLogger(__name__)


class BackendProber:
    def __init__(self, router: Router, interval_s: float = 2.0) -> None:
        self._router = router
        self._interval = interval_s
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="onshore-backend-prober")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def probe_once(self) -> None:
        for state in list(self._router.states.values()):
            if state.down_since is None:
                continue
            try:
                answering = await state.backend.check_health()
            except Exception:
                log.exception("probing a backend failed", extra={"backend": state.backend.name})
                answering = False
            if answering:
                self._router.mark_ok(state)
                log.info("backend is answering again", extra={"backend": state.backend.name})

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.probe_once()
