"""In-process implementations of the shared-state ports: the default for a single replica."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


class InProcessRevocationBus:
    """``RevocationBus`` within one process: ``publish`` calls every current listener at once.

    Delivery is synchronous, so when ``publish`` returns every listener in this process has
    applied the change (the "revoked at once on the replica that did it" guarantee). A listener
    that raises is logged and does not affect the others or the publisher.
    """

    def __init__(self) -> None:
        self._listeners: list[Callable[[str], None]] = []
        self._closed = asyncio.Event()

    async def publish(self, key_id: str) -> None:
        for listener in list(self._listeners):
            try:
                listener(key_id)
            except Exception:
                log.exception("a key-change listener failed")

    async def listen(self, on_change: Callable[[str], None]) -> None:
        """Call ``on_change`` for every published key id until cancelled or ``aclose``."""
        self._listeners.append(on_change)
        try:
            await self._closed.wait()
        finally:
            self._listeners.remove(on_change)

    async def aclose(self) -> None:
        self._closed.set()
