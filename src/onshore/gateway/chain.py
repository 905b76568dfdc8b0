"""Steps and how they are chained: each sees the request before the call, after it, and however it ends.

A step is ``async def __call__(ctx, call_next) -> None``. It may act before ``await call_next(ctx)``,
after it, and in its own ``finally`` (a complete reply, a stream that ends, an upstream error before
or after the first byte, a client that leaves, a cancellation all pass through it). What a request
holds across the call is taken with ``with``/``async with`` around ``call_next``, so it is released
in exactly one place. The chain is composed once, in the composition root.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from onshore.gateway.context import RequestContext

Handler = Callable[[RequestContext], Awaitable[None]]


class Step(Protocol):
    async def __call__(self, ctx: RequestContext, call_next: Handler) -> None: ...


class _Link:
    """``step`` with the rest of the chain bound: calling it returns the step's coroutine directly,
    so a link costs no frame of its own (a closure or an ``async def`` wrapper would)."""

    __slots__ = ("_next", "_step")

    def __init__(self, step: Step, call_next: Handler) -> None:
        self._step = step
        self._next = call_next

    def __call__(self, ctx: RequestContext) -> Awaitable[None]:
        return self._step(ctx, self._next)


def compose(steps: Sequence[Step], last: Handler) -> Handler:
    """``steps[0]`` runs first and ends last; ``last`` answers the request."""
    handler = last
    for step in reversed(steps):
        handler = _Link(step, handler)
    return handler
