"""The outermost step: however a request ends, its outcome becomes one ledger row and its telemetry.

Requests refused before anyone was identified (no key, a bad key) are counted, never written: a
flood of made-up keys must not become a flood of ledger rows, and nothing a client controls keys a
row. The row's key is the server's request id; the client's own id rides along for correlation.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Protocol

from onshore.domain.usage import UsageRecord
from onshore.errors import ClientClosed, OnshoreError
from onshore.gateway.chain import Handler
from onshore.gateway.context import RequestContext
from onshore.ports import Clock, FinishedRequest, Telemetry


class Pricing(Protocol):
    def cost_micro_krw(
        self, model: str | None, at: datetime, prompt: int, completion: int, cached: int = 0
    ) -> int | None:
        """The cost at the price in force at ``at`` (None: the model has no price)."""
        ...


class UsageSink(Protocol):
    def submit(self, record: UsageRecord) -> None:
        """Queue a row; O(1) and non-blocking: called on the event loop for every request."""
        ...


class Metering:
    __slots__ = ("_clock", "_pricing", "_sink", "_telemetry")

    def __init__(
        self, sink: UsageSink, telemetry: Telemetry, clock: Clock, pricing: Pricing | None = None
    ) -> None:
        self._sink = sink
        self._telemetry = telemetry
        self._clock = clock
        self._pricing = pricing

    async def __call__(self, ctx: RequestContext, call_next: Handler) -> None:
        # None at once when tracing is off: the adapter that traces is only built when it is on.
        ctx.trace = self._telemetry.request_started(ctx.api.value, ctx.client)
        try:
            await call_next(ctx)
        except OnshoreError as exc:
            ctx.finish(exc.status, exc.code)
            raise
        except asyncio.CancelledError:
            # The client leaving arrives as ClientClosed; a bare cancellation is the server stopping.
            if ctx.client.gone:
                ctx.finish(ClientClosed.status, ClientClosed.default_code)
            else:
                ctx.finish(503, "cancelled")
            raise
        except BaseException:
            ctx.finish(500, "internal_error")
            raise
        finally:
            if ctx.status == 0:  # pragma: no cover - every way out of the chain sets an outcome
                ctx.finish(500, "internal_error")
            self.record(ctx)

    def record(self, ctx: RequestContext) -> None:
        latency_s = self._clock.monotonic() - ctx.started
        principal = ctx.principal
        if principal is None:
            self._telemetry.request_refused(ctx.api.value, ctx.status, ctx.error_code, ctx.trace)
            return
        ttft_s = None if ctx.first_byte_at is None else ctx.first_byte_at - ctx.started
        # The price in force when the request arrived, kept on the row: a later price change never
        # rewrites what this request cost.
        cost = None if self._pricing is None else ctx.price(self._pricing)
        route = None if ctx.backend is None else ctx.route  # the backend that served it, if any
        self._sink.submit(
            UsageRecord(
                request_id=ctx.request_id,
                created_at=ctx.created_at,
                org_id=principal.org_id,
                key_id=principal.key_id,
                endpoint=ctx.api.value,
                model=ctx.model,
                backend=ctx.backend,
                status=ctx.status,
                streamed=ctx.stream,
                prompt_tokens=ctx.prompt_tokens,
                completion_tokens=ctx.completion_tokens,
                total_tokens=ctx.total_tokens,
                ttft_ms=None if ttft_s is None else ttft_s * 1000.0,
                latency_ms=latency_s * 1000.0,
                error_code=ctx.error_code,
                client_request_id=ctx.client_request_id,
                cached_tokens=ctx.cached_tokens,
                cost_micro_krw=cost,
                jurisdiction=None if route is None else route.jurisdiction,
                pii_counts=ctx.pii_counts,
                batch_id=ctx.batch_id,
            )
        )
        self._telemetry.request_finished(
            FinishedRequest(
                endpoint=ctx.api.value,
                model=(ctx.model or "") if ctx.backend else "",
                backend=ctx.backend or "",
                status=ctx.status,
                seconds=latency_s,
                ttft_seconds=ttft_s if ctx.stream else None,
                prompt_tokens=ctx.prompt_tokens,
                completion_tokens=ctx.completion_tokens,
                org=principal.org_name,
                org_id=principal.org_id,
                error_code=ctx.error_code,
                cost_micro_krw=cost,
                jurisdiction="" if route is None else route.jurisdiction,
                upstream_model="" if route is None else route.upstream_name,
                streamed=ctx.stream,
                request_id=ctx.request_id,
                trace=ctx.trace,
            )
        )
