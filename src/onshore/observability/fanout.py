"""Two ``Telemetry`` adapters as one: Prometheus counts, OpenTelemetry traces.

Built by the composition root only when tracing is on; with tracing off the pipeline reports to
Prometheus directly, so this costs nothing then.
"""

from __future__ import annotations

from onshore.ports import ClientChannel, FinishedRequest, RequestTrace, Telemetry


class TelemetryPair:
    """Reports to ``counts`` and to ``tracer``; the trace of a request is ``tracer``'s."""

    __slots__ = ("_counts", "_tracer")

    def __init__(self, counts: Telemetry, tracer: Telemetry) -> None:
        self._counts = counts
        self._tracer = tracer

    def request_started(self, endpoint: str, client: ClientChannel) -> RequestTrace | None:
        return self._tracer.request_started(endpoint, client)

    def request_finished(self, request: FinishedRequest) -> None:
        self._counts.request_finished(request)
        self._tracer.request_finished(request)

    def request_refused(
        self, endpoint: str, status: int, code: str | None, trace: RequestTrace | None = None
    ) -> None:
        self._counts.request_refused(endpoint, status, code, trace)
        self._tracer.request_refused(endpoint, status, code, trace)

    def upstream_failed(self, backend: str, reason: str) -> None:
        self._counts.upstream_failed(backend, reason)
        self._tracer.upstream_failed(backend, reason)

    def request_limited(self, scope: str, limit: str) -> None:
        self._counts.request_limited(scope, limit)
        self._tracer.request_limited(scope, limit)

    def limits_unavailable(self, decision: str) -> None:
        self._counts.limits_unavailable(decision)
        self._tracer.limits_unavailable(decision)

    def request_queued(self, model: str, org: str, tier: str, waited_s: float, outcome: str) -> None:
        self._counts.request_queued(model, org, tier, waited_s, outcome)
        self._tracer.request_queued(model, org, tier, waited_s, outcome)

    def tokens_served(self, org: str, tier: str, tokens: int) -> None:
        self._counts.tokens_served(org, tier, tokens)
        self._tracer.tokens_served(org, tier, tokens)

    def residency_refused(self, model: str) -> None:
        self._counts.residency_refused(model)
        self._tracer.residency_refused(model)

    def pii_found(self, entity: str, count: int, mode: str) -> None:
        self._counts.pii_found(entity, count, mode)
        self._tracer.pii_found(entity, count, mode)
