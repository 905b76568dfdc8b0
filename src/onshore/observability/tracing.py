"""The ``Telemetry`` port on OpenTelemetry: one span per inference request, exported over OTLP.

The span follows the GenAI semantic conventions (``gen_ai.operation.name``, ``gen_ai.request.model``,
``gen_ai.response.model``, ``gen_ai.usage.*``, ``server.address``/``server.port`` of the engine that
answered) with Onshore's own ``onshore.*`` attributes beside them. It never carries prompt or
completion text: the adapter is never given any (``FinishedRequest`` holds counts and names only).

Attributes are few on purpose: encoding them for OTLP is most of what a traced request costs
(measured: ~6 µs per attribute per span on the 2-core test machine, benchmarks/tracing_bench.py).
What the metrics or the ledger already hold (time to first token, cost, the organisation's name)
and what never varies (the method is always POST) is left out; ``onshore.request_id`` leads to the
ledger row.

Only ``onshore.bootstrap`` imports this module, and only when tracing is configured: with tracing off
no OpenTelemetry module is loaded at all, and the pipeline's one call per request
(``request_started`` on Prometheus) returns None at once.

The span is a SERVER span (the gateway serving a partner's request); a client's ``traceparent``
makes it that trace's child, and the backend call carries this span's ``traceparent``, so a vLLM
trace joins the gateway's. Counts (requests, tokens, failures) are Prometheus's job: the reports
that are not about one request's span are accepted and dropped here.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from onshore.observability.labels import OPERATIONS, error_type
from onshore.ports import ClientChannel, FinishedRequest, RequestTrace

__all__ = ["OtelTelemetry", "Servers", "build_provider", "parse_headers", "servers_of"]

Servers = Mapping[str, tuple[str, int]]  # backend name -> (host, port) of the engine
_PROPAGATOR = TraceContextTextMapPropagator()


class _Trace:
    """One request's span; ended once, by the report that ends the request."""

    __slots__ = ("ended", "span")

    def __init__(self, span: Span) -> None:
        self.span = span
        self.ended = False

    @property
    def traceparent(self) -> str:
        # Written out, not through the propagator: no carrier dict and no context per request.
        context = self.span.get_span_context()
        return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"

    def end(self, attributes: dict[str, AttributeValue], status: int, name: str | None = None) -> None:
        if self.ended:
            return
        self.ended = True
        span = self.span
        if span.is_recording():
            if name is not None:
                span.update_name(name)
            span.set_attributes(attributes)
            if status >= 500:  # a server span's error (HTTP semantic conventions): 4xx are the client's
                span.set_status(Status(StatusCode.ERROR))
        span.end()


class OtelTelemetry:
    """Implements ``onshore.ports.Telemetry`` as spans (see the module docstring).

    Args:
        tracer: From the ``TracerProvider`` that ``build_provider`` makes (or a test's own).
        servers: Each remote backend's host and port (``server.address``/``server.port``); a
            backend missing here (an embedded model) is served by the gateway itself.
    """

    def __init__(self, tracer: Tracer, servers: Servers | None = None) -> None:
        self._tracer = tracer
        self._servers = dict(servers or {})

    def request_started(self, endpoint: str, client: ClientChannel) -> RequestTrace | None:
        parent = client.header(b"traceparent")
        context: Context | None = None
        if parent is not None:
            carrier = {"traceparent": parent.decode("latin-1")}
            state = client.header(b"tracestate")
            if state is not None:
                carrier["tracestate"] = state.decode("latin-1")
            context = _PROPAGATOR.extract(carrier)  # a malformed one gives a new root, as W3C says
        operation = OPERATIONS.get(endpoint, endpoint)
        span = self._tracer.start_span(
            operation,
            context,
            SpanKind.SERVER,
            {"gen_ai.operation.name": operation},
            record_exception=False,
            set_status_on_exception=False,
        )
        return _Trace(span)

    def request_finished(self, request: FinishedRequest) -> None:
        trace = request.trace
        if not isinstance(trace, _Trace) or trace.ended:
            return
        attributes: dict[str, AttributeValue] = {
            "http.response.status_code": request.status,
            "onshore.org_id": request.org_id,
            "onshore.request_id": request.request_id,
            "onshore.stream": request.streamed,
        }
        model = request.model
        if model:
            attributes["gen_ai.request.model"] = model
        if request.upstream_model:
            attributes["gen_ai.response.model"] = request.upstream_model
        if request.backend:
            attributes["onshore.backend"] = request.backend
            server = self._servers.get(request.backend)
            if server is not None:
                attributes["server.address"], attributes["server.port"] = server
        if request.jurisdiction:
            attributes["onshore.jurisdiction"] = request.jurisdiction
        if request.prompt_tokens or request.completion_tokens or request.status < 400:
            attributes["gen_ai.usage.input_tokens"] = request.prompt_tokens
            attributes["gen_ai.usage.output_tokens"] = request.completion_tokens
        failure = error_type(request.status, request.error_code)
        if failure is not None:
            attributes["error.type"] = failure
        operation = OPERATIONS.get(request.endpoint, request.endpoint)
        trace.end(attributes, request.status, f"{operation} {model}" if model else None)

    def request_refused(
        self, endpoint: str, status: int, code: str | None, trace: RequestTrace | None = None
    ) -> None:
        if not isinstance(trace, _Trace):
            return
        attributes: dict[str, AttributeValue] = {"http.response.status_code": status}
        failure = error_type(status, code)
        if failure is not None:
            attributes["error.type"] = failure
        trace.end(attributes, status)

    # Counts, not spans: Prometheus reports these (see the module docstring).
    def upstream_failed(self, backend: str, reason: str) -> None:
        return None

    def request_limited(self, scope: str, limit: str) -> None:
        return None

    def limits_unavailable(self, decision: str) -> None:
        return None

    def request_queued(self, model: str, org: str, tier: str, waited_s: float, outcome: str) -> None:
        return None

    def tokens_served(self, org: str, tier: str, tokens: int) -> None:
        return None

    def residency_refused(self, model: str) -> None:
        return None

    def pii_found(self, entity: str, count: int, mode: str) -> None:
        return None


def build_provider(
    *,
    service_name: str,
    sample_ratio: float,
    exporter: SpanExporter | None = None,
    processor: SpanProcessor | None = None,
    attributes: Mapping[str, str] | None = None,
) -> TracerProvider:
    """A tracer provider of its own (the process-wide global is never set: nothing at import time,
    and tests can build as many as they like). Spans go to ``processor``, or to ``exporter`` through
    a ``BatchSpanProcessor`` (a background thread; never an export on the event loop).

    ``sample_ratio`` applies to traces that start here; a client's ``traceparent`` decides for its
    own trace (parent-based sampling), so a trace is never half exported.
    """
    resource = Resource.create({"service.name": service_name, **(attributes or {})})
    provider = TracerProvider(resource=resource, sampler=ParentBased(TraceIdRatioBased(sample_ratio)))
    if processor is None and exporter is not None:
        processor = BatchSpanProcessor(exporter)
    if processor is not None:
        provider.add_span_processor(processor)
    return provider


def parse_headers(text: str | None) -> dict[str, str]:
    """``key=value,key2=value2`` (values URL-encoded), as ``OTEL_EXPORTER_OTLP_HEADERS`` is written;
    pairs without ``=`` are ignored."""
    headers: dict[str, str] = {}
    for pair in (text or "").split(","):
        name, sep, value = pair.partition("=")
        if sep and name.strip():
            headers[unquote(name.strip()).lower()] = unquote(value.strip())
    return headers


def servers_of(urls: Mapping[str, str]) -> dict[str, tuple[str, int]]:
    """Backend name -> (host, port) from each remote backend's base URL."""
    servers: dict[str, tuple[str, int]] = {}
    for name, url in urls.items():
        parts = urlsplit(url)
        if parts.hostname:
            servers[name] = (parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    return servers
