"""From here on a client that leaves cancels the work at once (queue wait, upstream call, stream).

It leaves the chain as ``ClientClosed``; every step's ``finally`` still runs, so what a request held
is released and its row is written. It starts after the body is read: until then the body reader
owns the connection's receive channel.
"""

from __future__ import annotations

from onshore.gateway.chain import Handler
from onshore.gateway.context import RequestContext


class CancelOnDisconnect:
    __slots__ = ()

    async def __call__(self, ctx: RequestContext, call_next: Handler) -> None:
        async with ctx.client.cancel_on_disconnect():
            await call_next(ctx)
