"""The last step: send the backend's answer to the client through the transformer chain.

A complete reply is parsed once (for usage and the public model name) and re-encoded only if a
transformer changed it. A stream is framed into whole events and forwarded as bytes; the response
starts with the first block, so an engine that fails before it can still be failed over. When the
client leaves mid-stream, the engine's usage is still read (for at most ``drain_s``): a partner who
reads 49 of 50 tokens and hangs up pays for them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import orjson

from onshore.errors import ClientClosed, OnshoreError, UpstreamError, UpstreamTimeout, error_event
from onshore.gateway.context import RequestContext
from onshore.gateway.sse import EVENT_END, SseFramer, first_data_is_json
from onshore.gateway.steps.dispatch import BackendFailure
from onshore.gateway.transforms import ResponseTransform, TransformFactory, build
from onshore.ports import BackendReply, Clock

_BYTES_PER_TOKEN = 4  # the usual estimate, used only when a client left and the engine never said
JURISDICTION_HEADER = b"x-onshore-jurisdiction"


def announce_jurisdiction(ctx: RequestContext) -> None:
    """Tell the partner where its request was served, once, as the answer starts (after failover)."""
    route = ctx.route
    if route is not None:
        ctx.client.add_headers(((JURISDICTION_HEADER, route.jurisdiction.encode("ascii")),))


class Respond:
    __slots__ = ("_clock", "_drain_s", "_factories")

    def __init__(self, factories: Sequence[TransformFactory], clock: Clock, *, drain_s: float = 2.0) -> None:
        self._factories = tuple(factories)
        self._clock = clock
        self._drain_s = drain_s

    async def __call__(self, ctx: RequestContext) -> None:
        reply = ctx.reply
        assert reply is not None
        transforms = build(ctx, self._factories)
        if ctx.stream:
            await self._stream(ctx, reply, transforms)
        else:
            await self._complete(ctx, reply, transforms)

    async def _complete(
        self, ctx: RequestContext, reply: BackendReply, transforms: list[ResponseTransform]
    ) -> None:
        try:
            body = await reply.read()
        except UpstreamTimeout as exc:
            raise BackendFailure(exc, "timeout", retryable=False) from None
        except UpstreamError as exc:
            raise BackendFailure(exc, exc.code or "read_failed", retryable=True) from None
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict):
            raise BackendFailure(UpstreamError(), "bad_json", retryable=True)
        changed = False
        for transform in transforms:
            changed = transform.on_body(payload) or changed
        if changed:
            body = orjson.dumps(payload)
        announce_jurisdiction(ctx)
        await ctx.client.send_complete(200, body)
        ctx.finish(200)

    async def _stream(
        self, ctx: RequestContext, reply: BackendReply, transforms: list[ResponseTransform]
    ) -> None:
        framer = SseFramer()
        client = ctx.client
        relay = _Relay(ctx, transforms, self._clock)
        failure: tuple[OnshoreError, str] | None = None
        delivered = False  # the client was sent the whole answer, its end ([DONE]) included
        try:
            async for chunk in reply.chunks():
                block = framer.feed(chunk)
                if block:
                    if not relay.checked and not relay.check(block):
                        failure = (UpstreamError(), "bad_stream")
                        break
                    await relay.send(block)
                    delivered = framer.saw_done or (ctx.responses is not None and ctx.responses.ended)
            else:
                block = framer.flush()
                if block:
                    await relay.send(block)
        except asyncio.CancelledError:
            if not client.gone:
                raise
            await self._drain(ctx, reply, framer, transforms, relay.events, delivered)
        except UpstreamError as exc:
            failure = (exc, exc.code or "stream_failed")
        # A Responses API stream passed through ends with its terminal event, not [DONE].
        ended = framer.saw_done or (ctx.responses is not None and ctx.responses.ended)
        if failure is None and not ended:
            failure = (UpstreamError(), "stream_truncated")
        if failure is not None:
            error, reason = failure
            if not client.started:
                raise BackendFailure(error, reason, retryable=not isinstance(error, UpstreamTimeout))
            await client.send_chunk(error_event(error))
            await client.end_stream()
            raise BackendFailure(error, reason, retryable=False)
        if not client.started:
            announce_jurisdiction(ctx)
            await client.start_stream()
        await client.end_stream()
        ctx.finish(200)

    async def _drain(
        self,
        ctx: RequestContext,
        reply: BackendReply,
        framer: SseFramer,
        transforms: list[ResponseTransform],
        relayed_events: int,
        delivered: bool,
    ) -> None:
        """The client left: read on to the engine's usage (bounded), else estimate; then ClientClosed."""
        if delivered:
            # It left once it had [DONE] (the openai SDK closes the response there) while the
            # engine's stream was still ending: a whole answer, a 200 whose usage is known (such
            # streams were recorded as 499 client_closed, 2 in 160 in a test of the real server).
            return
        try:
            async with asyncio.timeout(self._drain_s):
                async for chunk in reply.chunks():
                    block = framer.feed(chunk)
                    for transform in transforms:
                        if not block:
                            break
                        block = transform.on_events(block)
                    if ctx.total_tokens or framer.saw_done:
                        break
        except (TimeoutError, OnshoreError):
            pass
        if ctx.total_tokens:
            raise ClientClosed from None
        body = ctx.body
        prompt = len(body.raw) // _BYTES_PER_TOKEN if body is not None else 0
        ctx.set_usage(prompt, max(0, relayed_events - 1))  # less the opening role event
        raise ClientClosed(code="client_closed_usage_estimated") from None


class _Relay:
    """Sends blocks through the transformers, starting the response with the first one."""

    __slots__ = ("_clock", "_ctx", "_transforms", "checked", "events")

    def __init__(self, ctx: RequestContext, transforms: list[ResponseTransform], clock: Clock) -> None:
        self._ctx = ctx
        self._transforms = transforms
        self._clock = clock
        self.checked = False
        self.events = 0

    def check(self, block: bytes) -> bool:
        """The first event with data must be JSON; False means the engine answered garbage."""
        verdict = first_data_is_json(block)
        if verdict is None:
            return True  # only comments so far
        self.checked = True
        return verdict

    async def send(self, block: bytes) -> None:
        for transform in self._transforms:
            block = transform.on_events(block)
            if not block:
                return
        client = self._ctx.client
        if not client.started:
            announce_jurisdiction(self._ctx)
            await client.start_stream()
            self._ctx.first_byte_at = self._clock.monotonic()
        self.events += block.count(EVENT_END)
        await client.send_chunk(block)
