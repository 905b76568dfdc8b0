"""One registry for what the composition root starts, stops and checks: the only place that knows
the order. ``/readyz`` reads its checks by name; stopping runs in reverse and never stops half way."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


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
        return {name: result for (name, _), result in zip(named, results, strict=True)}

    async def _run(self, check: Callable[[], Awaitable[Check]]) -> Check:
        try:
            async with asyncio.timeout(self._timeout):
                return await check()
        except TimeoutError:
            return Check(False, "timeout")
        except Exception:
            log.exception("a readiness check failed")
            return Check(False, "failing")
