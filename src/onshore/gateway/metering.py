"""Turn a finished request into one ledger row and its metrics. Never writes SQL itself."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

from onshore.domain.usage import UsageRecord
from onshore.gateway.context import RequestContext
from onshore.observability.metrics import GatewayMetrics


class UsageSink(Protocol):
    def submit(self, record: UsageRecord) -> None:
        """Queue a row; O(1) and non-blocking: called on the event loop for every request."""
        ...


class Meter:
    __slots__ = ("_metrics", "_sink")

    def __init__(self, sink: UsageSink, metrics: GatewayMetrics):
        self._sink = sink
        self._metrics = metrics

    def record(self, ctx: RequestContext) -> None:
        if ctx.metered:
            return
        ctx.metered = True
        now = time.perf_counter()
        latency_ms = ctx.elapsed_ms(now)
        ttft_ms = ctx.ttft_ms()
        principal = ctx.principal
        self._sink.submit(
            UsageRecord(
                request_id=ctx.request_id,
                created_at=datetime.now(UTC) - timedelta(milliseconds=latency_ms),
                org_id=principal.org_id if principal else None,
                key_id=principal.key_id if principal else None,
                endpoint=ctx.endpoint.value,
                model=ctx.model,
                backend=ctx.backend,
                status=ctx.status,
                streamed=ctx.stream,
                prompt_tokens=ctx.prompt_tokens,
                completion_tokens=ctx.completion_tokens,
                total_tokens=ctx.total_tokens,
                ttft_ms=ttft_ms,
                latency_ms=latency_ms,
                error_code=ctx.error_code,
            )
        )
        self._metrics.observe(
            ctx.endpoint.value,
            # Only routed models become label values: a partner's typo must not create a series.
            (ctx.model or "") if ctx.backend else "",
            ctx.backend or "",
            ctx.status,
            latency_ms / 1000.0,
            ttft_ms / 1000.0 if ttft_ms is not None and ctx.stream else None,
            ctx.prompt_tokens,
            ctx.completion_tokens,
        )
