"""The ``Telemetry`` port on Prometheus, with a registry of its own (no process-wide globals).

The gateway reports to the port and never imports ``prometheus_client`` (an import contract checks
it); an OpenTelemetry adapter can sit beside this one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from onshore.ports import FinishedRequest

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "onshore_requests",
            "Partner requests to the inference endpoints, by outcome.",
            ("endpoint", "model", "backend", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "onshore_request_duration_seconds",
            "Time from request to the last byte of the response.",
            ("endpoint", "model", "backend"),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.ttft = Histogram(
            "onshore_time_to_first_token_seconds",
            "Time from request to the first streamed event.",
            ("model", "backend"),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.tokens = Counter(
            "onshore_tokens",
            "Tokens metered, as the backend reported them.",
            ("model", "backend", "kind"),
            registry=self.registry,
        )
        self.upstream_errors = Counter(
            "onshore_upstream_errors",
            "Backend failures (connection refused, timeouts, 5xx, broken streams).",
            ("backend", "reason"),
            registry=self.registry,
        )
        self.refused = Counter(
            "onshore_requests_refused",
            "Requests refused before a partner was identified (no key, a bad key): counted, never rows.",
            ("endpoint", "status"),
            registry=self.registry,
        )
        self.limited = Counter(
            "onshore_requests_limited",
            "Partner requests refused by a rate limit, quota or budget (429).",
            ("scope", "limit"),
            registry=self.registry,
        )
        self.limits_store = Counter(
            "onshore_limits_store_unavailable",
            "Decisions taken without the limits store: let through (open), refused (closed), settle_failed.",
            ("decision",),
            registry=self.registry,
        )
        self.queue_wait = Histogram(
            "onshore_queue_wait_seconds",
            "Time requests waited in the fair queue, by how they left it (admitted, timeout, left).",
            ("model", "tier", "outcome"),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_exits = Counter(
            "onshore_queue_requests",
            "Requests that waited in the fair queue, by organisation and how they left it.",
            ("model", "org", "tier", "outcome"),
            registry=self.registry,
        )
        self.served = Counter(
            "onshore_fair_share_tokens",
            "Tokens served through queued models, per organisation and tier (the fair share's count).",
            ("org", "tier"),
            registry=self.registry,
        )
        self.residency = Counter(
            "onshore_residency_refusals",
            "Requests refused for residency: no allowed backend serves the model (403) or is up (503).",
            ("model",),
            registry=self.registry,
        )
        self.pii = Counter(
            "onshore_pii_findings",
            "Personal data found in requests, by type and policy mode (counts only, never a value).",
            ("type", "mode"),
            registry=self.registry,
        )
        # Resolving label children is the costly part of an update: keep them per label tuple.
        self._children: dict[tuple[str, ...], tuple[Counter, Histogram, Counter, Counter]] = {}

    def request_finished(self, request: FinishedRequest) -> None:
        endpoint, model, backend = request.endpoint, request.model, request.backend
        key = (endpoint, model, backend, str(request.status))
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(endpoint, model, backend, key[3]),
                self.latency.labels(endpoint, model, backend),
                self.tokens.labels(model, backend, "prompt"),
                self.tokens.labels(model, backend, "completion"),
            )
            if len(self._children) < 10_000:  # bounded: label values come from config, but be safe
                self._children[key] = children
        requests, latency, prompt, completion = children
        requests.inc()
        latency.observe(request.seconds)
        if request.prompt_tokens:
            prompt.inc(request.prompt_tokens)
        if request.completion_tokens:
            completion.inc(request.completion_tokens)
        if request.ttft_seconds is not None:
            self.ttft.labels(model, backend).observe(request.ttft_seconds)

    def request_refused(self, endpoint: str, status: int, code: str | None) -> None:
        self.refused.labels(endpoint, str(status)).inc()

    def upstream_failed(self, backend: str, reason: str) -> None:
        self.upstream_errors.labels(backend, reason).inc()

    def request_limited(self, scope: str, limit: str) -> None:
        self.limited.labels(scope, limit).inc()

    def limits_unavailable(self, decision: str) -> None:
        self.limits_store.labels(decision).inc()

    def request_queued(self, model: str, org: str, tier: str, waited_s: float, outcome: str) -> None:
        self.queue_wait.labels(model, tier, outcome).observe(waited_s)
        self.queue_exits.labels(model, org, tier, outcome).inc()

    def tokens_served(self, org: str, tier: str, tokens: int) -> None:
        if tokens > 0:
            self.served.labels(org, tier).inc(tokens)

    def residency_refused(self, model: str) -> None:
        self.residency.labels(model).inc()

    def pii_found(self, entity: str, count: int, mode: str) -> None:
        if count > 0:
            self.pii.labels(entity, mode).inc(count)

    def add_gauges(
        self, name: str, doc: str, read: Callable[[], Iterable[tuple[str, float]]], label: str = "kind"
    ) -> None:
        """A gauge family read at scrape time, e.g. the ledger's pending and spooled rows."""
        self.registry.register(_CallbackCollector(name, doc, read, label))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _CallbackCollector(Collector):
    def __init__(self, name: str, doc: str, read: Callable[[], Iterable[tuple[str, float]]], label: str):
        self._name, self._doc, self._read, self._label = name, doc, read, label

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(self._name, self._doc, labels=(self._label,))
        for kind, value in self._read():
            family.add_metric((kind,), value)
        yield family

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return []
