"""Pick a backend, hold its in-flight slot across the call and the response, fail over when allowed.

A backend has failed a request when it cannot be reached, answers 5xx (or 401/403: our credentials
for it are wrong), answers garbage where JSON was due, or cuts a stream. It is then marked down (the
health prober brings it back), and while nothing has reached the client the request goes to the next
healthy backend of the model. A 4xx is the partner's own mistake: no failover, the engine's message
goes back. A 429 means busy, not broken: try another backend, but do not mark this one down.
"""

from __future__ import annotations

import logging

from onshore.errors import (
    BackendUnavailable,
    OnshoreError,
    ResidencyUnavailable,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from onshore.gateway.chain import Handler
from onshore.gateway.context import RequestContext
from onshore.gateway.request_body import upstream_body
from onshore.gateway.routing import BackendState, Router
from onshore.gateway.upstream_errors import refusal
from onshore.ports import BackendCall, BackendReply, Clock, Telemetry

log = logging.getLogger(__name__)


class BackendFailure(Exception):
    """A backend failed this request; raised inside the call, handled by ``Dispatch``."""

    def __init__(self, error: OnshoreError, reason: str, *, retryable: bool, marks_down: bool = True):
        super().__init__(reason)
        self.error = error
        self.reason = reason
        self.retryable = retryable  # nothing reached the client and the engine is not still working
        self.marks_down = marks_down


class Dispatch:
    __slots__ = ("_clock", "_router", "_telemetry")

    def __init__(self, router: Router, telemetry: Telemetry, clock: Clock) -> None:
        self._router = router
        self._telemetry = telemetry
        self._clock = clock

    async def __call__(self, ctx: RequestContext, call_next: Handler) -> None:
        model = ctx.model
        assert model is not None
        allowed = ctx.jurisdictions
        tried: list[str] = []
        while True:
            candidate = self._router.choose(model, frozenset(tried), allowed)
            route, state = candidate.route, candidate.state
            ctx.route, ctx.backend = route, route.backend
            tried.append(route.backend)
            try:
                with state:  # the in-flight slot: released here, however the request ends
                    await self._call(ctx, state, call_next)
            except BackendFailure as failure:
                if failure.marks_down:
                    self._router.mark_failed(state)
                self._telemetry.upstream_failed(route.backend, failure.reason)
                log.warning(
                    "backend failed a request",
                    extra={
                        "backend": route.backend,
                        "reason": failure.reason,
                        "status": failure.error.status,
                    },
                )
                if (
                    failure.retryable
                    and not ctx.client.started
                    and self._router.has_untried(model, tried, allowed)
                ):
                    continue
                if not ctx.client.started and self._router.confined(model, allowed):
                    # Backends elsewhere may be up; they are never used instead. Say so plainly.
                    raise ResidencyUnavailable from None
                raise failure.error from None
            if state.down_since is not None:
                self._router.mark_ok(state)
            return

    async def _call(self, ctx: RequestContext, state: BackendState, call_next: Handler) -> None:
        body = ctx.body
        route = ctx.route
        assert body is not None
        assert route is not None
        call = BackendCall(
            ctx.endpoint, upstream_body(body, route.upstream_name), body.payload, body.stream, ctx.request_id
        )
        if ctx.trace is not None:  # the engine's spans join the gateway's trace
            call.headers["traceparent"] = ctx.trace.traceparent
        try:
            reply = await state.backend.send(call)
        except UpstreamTimeout as exc:
            raise BackendFailure(exc, "timeout", retryable=False) from None
        except BackendUnavailable:
            raise  # an embedded model that is not loaded: its own clear 503, nothing to fail over to
        except UpstreamUnavailable as exc:
            raise BackendFailure(exc, "unavailable", retryable=True) from None
        except UpstreamError as exc:
            raise BackendFailure(exc, exc.code or "error", retryable=True) from None
        ctx.reply = reply
        try:
            if reply.status >= 400:
                await self._refused(reply)
            if not ctx.stream:
                ctx.first_byte_at = self._clock.monotonic()
            await call_next(ctx)
        finally:
            ctx.reply = None
            await reply.aclose()

    @staticmethod
    async def _refused(reply: BackendReply) -> None:
        try:
            body = await reply.read()
        except UpstreamError:
            body = b""
        status = reply.status
        error = refusal(status, body, reply.headers)
        if status == 429:
            raise BackendFailure(error, "http_429", retryable=True, marks_down=False)
        if isinstance(error, UpstreamError):
            raise BackendFailure(error, f"http_{status}", retryable=True)
        raise error
