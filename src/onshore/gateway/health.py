"""Bring failed backends back: probe the ones marked down, and mark them up when they answer.

Only backends marked down are probed: a healthy backend proves itself on every request. What the
probe asks is the backend's own business (``Backend.check_health``): remote engines are asked a
one-token inference, since an engine can list its models and still fail every request.
"""

from __future__ import annotations

import logging

from onshore.gateway.periodic import Periodic
from onshore.gateway.routing import Router

log = logging.getLogger(__name__)


class BackendProber:
    def __init__(self, router: Router, interval_s: float = 2.0) -> None:
        self._router = router
        self._periodic = Periodic("onshore-backend-prober", interval_s, self.probe_once)

    async def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

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
