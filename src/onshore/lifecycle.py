"""One registry for what the composition root starts, stops and checks: the only place that knows
the order. ``/readyz`` reads its checks by name; stopping runs in reverse and never stops half way.

It also holds whether this process is draining (``onshore serve`` got SIGTERM, docs/upgrades.md):
from then on the ``draining`` check fails, so a load balancer stops sending here while the
requests under way finish.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

# The key under which the app puts ``Lifecycle.begin_drain`` in the ASGI lifespan state, where the
# server process that got the signal finds it (onshore.cli.draining).
DRAIN_STATE = "onshore.begin_drain"


@dataclass(frozen=True, slots=True)
class Check:
    ok: bool
    detail: str  # safe to show anyone: a word or a count, never an exception text


@dataclass(frozen=True, slots=True)
class _Entry:
    name: str
    start: Callable[[], Awaitable[None]] | None
    stop: Callable[[], Awaitable[None]] | None
    check: Callable[[], Awaitable[Check]] | None


class Lifecycle:
    def __init__(self, check_timeout_s: float = 3.0) -> None:
        self._entries: list[_Entry] = []
        self._timeout = check_timeout_s
        self._draining = False

    @property
    def draining(self) -> bool:
        return self._draining

    def begin_drain(self) -> None:
        """From now on ``/readyz`` fails with a ``draining`` check; nothing else changes here."""
        self._draining = True

    def add(
        self,
        name: str,
        *,
        start: Callable[[], Awaitable[None]] | None = None,
        stop: Callable[[], Awaitable[None]] | None = None,
        check: Callable[[], Awaitable[Check]] | None = None,
    ) -> None:
        self._entries.append(_Entry(name, start, stop, check))

    async def start(self) -> None:
        for entry in self._entries:
            if entry.start is not None:
                await entry.start()

    async def stop(self) -> None:
        for entry in reversed(self._entries):
            if entry.stop is None:
                continue
            try:
                await entry.stop()
            except Exception:
                log.exception("stopping failed", extra={"service": entry.name})

    async def readiness(self) -> dict[str, Check]:
        named = [(e.name, e.check) for e in self._entries if e.check is not None]
        results = await asyncio.gather(*(self._run(check) for _, check in named))
        checks = {name: result for (name, _), result in zip(named, results, strict=True)}
        # Always present, so a dashboard sees the same keys whether or not the process drains.
        checks["draining"] = Check(False, "draining") if self._draining else Check(True, "no")
        return checks

    async def _run(self, check: Callable[[], Awaitable[Check]]) -> Check:
        try:
            async with asyncio.timeout(self._timeout):
                return await check()
        except TimeoutError:
            return Check(False, "timeout")
        except Exception:
            log.exception("a readiness check failed")
            return Check(False, "failing")
