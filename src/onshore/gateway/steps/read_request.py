"""Read the body (bounded) and the few fields the gateway decides on; the rest stays bytes."""

from __future__ import annotations

from onshore.gateway.chain import Handler
from onshore.gateway.context import RequestContext
from onshore.gateway.request_body import parse_body


class ReadRequest:
    __slots__ = ("_limit",)

    def __init__(self, max_body_bytes: int) -> None:
        self._limit = max_body_bytes

    async def __call__(self, ctx: RequestContext, call_next: Handler) -> None:
        raw = await ctx.client.read_body(self._limit)
        body = parse_body(raw, ctx.endpoint)
        ctx.body, ctx.model, ctx.stream = body, body.model, body.stream
        await call_next(ctx)
