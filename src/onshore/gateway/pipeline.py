"""The request pipeline: authenticate → policy → route → backend → relay → meter.

It knows nothing about HTTP servers: the API face hands it headers and body bytes and gets back
either a complete body or an async iterator of SSE bytes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import orjson

from onshore.errors import (
    OnshoreError,
    PermissionDenied,
    UpstreamError,
    UpstreamRejected,
    UpstreamUnavailable,
)
from onshore.gateway.auth import Authenticator
from onshore.gateway.context import RequestContext
from onshore.gateway.metering import Meter
from onshore.gateway.policy import check_model_access
from onshore.gateway.request_body import ParsedBody, parse_body, upstream_body
from onshore.gateway.routing import Candidate, Router
from onshore.gateway.sse import SseRelay, error_event, usage_counts
from onshore.observability.metrics import GatewayMetrics
from onshore.ports import BackendCall, BackendReply

log = logging.getLogger(__name__)

CLIENT_CLOSED = 499  # nginx's convention for "the client went away"


@dataclass(slots=True)
class Complete:
    status: int
    body: bytes


@dataclass(slots=True)
class Streaming:
    events: AsyncIterator[bytes]


class Gateway:
    def __init__(self, authenticator: Authenticator, router: Router, meter: Meter, metrics: GatewayMetrics):
        self.authenticator = authenticator
        self.router = router
        self.meter = meter
        self.metrics = metrics

    async def handle(self, ctx: RequestContext, raw: bytes) -> Complete | Streaming:
        """Serve one inference call for an authenticated context; raises OnshoreError on failure."""
        principal = ctx.principal
        if principal is None:  # pragma: no cover - the API face authenticates first
            raise PermissionDenied
        parsed = parse_body(raw, ctx.endpoint)
        ctx.model = parsed.model
        ctx.stream = parsed.stream
        check_model_access(principal, parsed.model, self.router)
        candidate, reply = await self._send(ctx, raw, parsed)
        if reply.status >= 400:
            await self._upstream_refused(ctx, candidate, reply)
        if not parsed.stream:
            return Complete(200, await self._read_complete(ctx, candidate, reply))
        relay = SseRelay(
            strip_usage=not parsed.include_usage,
            upstream_model=candidate.route.upstream_name,
            public_model=parsed.model,
        )
        return Streaming(self._relay(ctx, candidate, reply, relay))

    async def _send(
        self, ctx: RequestContext, raw: bytes, parsed: ParsedBody
    ) -> tuple[Candidate, BackendReply]:
        tried: set[str] = set()
        while True:
            candidate = self.router.choose(parsed.model, frozenset(tried))
            route, state = candidate.route, candidate.state
            ctx.backend = route.backend
            body = upstream_body(raw, parsed, route.upstream_name)
            call = BackendCall(ctx.endpoint, body, parsed.payload, parsed.stream, ctx.request_id)
            state.in_flight += 1
            try:
                reply = await state.backend.send(call)
            except UpstreamUnavailable:
                state.in_flight -= 1
                self.router.mark_failed(state)
                self.metrics.upstream_error(route.backend, "unavailable")
                tried.add(route.backend)
                if len(tried) >= len(self.router.routes_for(parsed.model)):
                    raise
                continue  # nothing was sent: safe to try the next backend
            except UpstreamError as exc:
                state.in_flight -= 1
                self.router.mark_failed(state)
                self.metrics.upstream_error(route.backend, exc.default_code or "error")
                raise
            except BaseException:
                state.in_flight -= 1
                raise
            if reply.status >= 500:
                self.router.mark_failed(state)
            elif state.down_since is not None:
                self.router.mark_ok(state)
            ctx.first_byte_at = time.perf_counter() if not parsed.stream else None
            return candidate, reply

    async def _upstream_refused(self, ctx: RequestContext, candidate: Candidate, reply: BackendReply) -> None:
        """Turn an upstream error answer into ours; a partner's mistake keeps its message."""
        try:
            body = await reply.read()
        finally:
            candidate.state.in_flight -= 1
            await reply.aclose()
        status = reply.status
        if status >= 500 or status in (401, 403, 407):
            # 401/403 here means *our* credentials for the engine are wrong: not the partner's fault.
            self.metrics.upstream_error(candidate.route.backend, f"http_{status}")
            raise UpstreamError
        message, param, code = _upstream_error_fields(body)
        raise UpstreamRejected(
            status, message or "The model backend rejected the request.", param=param, code=code
        )

    async def _read_complete(self, ctx: RequestContext, candidate: Candidate, reply: BackendReply) -> bytes:
        state = candidate.state
        try:
            body = await reply.read()
        except UpstreamError as exc:
            self.router.mark_failed(state)
            self.metrics.upstream_error(candidate.route.backend, exc.default_code or "error")
            raise
        finally:
            state.in_flight -= 1
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            self.metrics.upstream_error(candidate.route.backend, "bad_json")
            raise UpstreamError from None
        if isinstance(payload, dict):
            ctx.set_usage(*usage_counts(payload.get("usage")))
            if payload.get("model") != ctx.model and "model" in payload:
                payload["model"] = ctx.model  # never leak an upstream alias or a local file path
                body = orjson.dumps(payload)
        ctx.status = 200
        return body

    async def _relay(
        self, ctx: RequestContext, candidate: Candidate, reply: BackendReply, relay: SseRelay
    ) -> AsyncIterator[bytes]:
        ctx.status = CLIENT_CLOSED  # until the stream ends normally
        try:
            async for chunk in reply.chunks():
                out = relay.feed(chunk)
                if out:
                    if ctx.first_byte_at is None:
                        ctx.first_byte_at = time.perf_counter()
                    yield out
            tail = relay.flush()
            if tail:
                yield tail
            if not relay.saw_done:
                self.metrics.upstream_error(candidate.route.backend, "stream_truncated")
                ctx.status, ctx.error_code = 502, "upstream_stream_truncated"
                yield error_event(UpstreamError.default_message, UpstreamError.error_type, ctx.error_code)
            else:
                ctx.status = 200
        except OnshoreError as exc:
            self.metrics.upstream_error(candidate.route.backend, exc.code or "error")
            ctx.status, ctx.error_code = exc.status, exc.code
            yield error_event(exc.message, exc.error_type, exc.code)
        finally:
            candidate.state.in_flight -= 1
            ctx.set_usage(*usage_counts(relay.usage))
            await reply.aclose()


def _upstream_error_fields(body: bytes) -> tuple[str | None, str | None, str | None]:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, None, None
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        message = error.get("message")
        param, code = error.get("param"), error.get("code")
        return (
            message[:2000] if isinstance(message, str) else None,
            param if isinstance(param, str) else None,
            code if isinstance(code, str) else None,
        )
    if isinstance(error, str):
        return error[:2000], None, None
    return None, None, None
