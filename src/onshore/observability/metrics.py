"""The ``Telemetry`` port on Prometheus, with a registry of its own (no process-wide globals).

The gateway reports to the port and never imports ``prometheus_client`` (an import contract checks
it); the OpenTelemetry adapter (``tracing.py``) sits beside this one.

Labels are bounded on purpose: endpoint, model and backend come from the configuration, ``org`` is
an organisation's name (operators create organisations), status and error type are small sets
(``labels.error_type`` folds an engine's own codes into the status). Never a key id, a request id
or anything a partner's request chooses: every distinct value is a series kept for ever.

With ``onshore serve --workers N`` every worker writes its values to files in
``PROMETHEUS_MULTIPROC_DIR`` (``multiprocess_dir``; ``serve`` makes a fresh one per start) and
``/metrics``, whichever worker answers, sums them (``multiprocess.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from onshore.observability.labels import error_type
from onshore.observability.multiprocess import GaugeMode, SharedGauges
from onshore.ports import ClientChannel, FinishedRequest, RequestTrace

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class GatewayMetrics:
    """Args:
    multiprocess_dir: ``PROMETHEUS_MULTIPROC_DIR`` when the server runs several workers (it must
        be in the environment before ``prometheus_client`` is first imported); None: one process.
    """

    def __init__(self, multiprocess_dir: str | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._shared = None if multiprocess_dir is None else SharedGauges(multiprocess_dir)
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
        # --- per organisation (what the console and the invoices' account managers look at) ---
        self.org_requests = Counter(
            "onshore_org_requests",
            "Requests of each organisation, by status.",
            ("org", "status"),
            registry=self.registry,
        )
        self.org_tokens = Counter(
            "onshore_org_tokens",
            "Tokens served to each organisation, by model and kind (prompt, completion).",
            ("org", "model", "kind"),
            registry=self.registry,
        )
        self.org_cost = Counter(
            "onshore_org_cost_krw",
            "What each organisation's requests cost in KRW, at the price in force when each arrived.",
            ("org", "model"),
            registry=self.registry,
        )
        self.org_errors = Counter(
            "onshore_org_errors",
            "Failed requests (status 400 and above) of each organisation, by error type.",
            ("org", "type"),
            registry=self.registry,
        )
        self.budget_used = Gauge(
            "onshore_org_budget_used_ratio",
            "Share of each organisation's monthly KRW budget used (1 = spent), from the limits counters.",
            ("org",),
            registry=self.registry,
            multiprocess_mode="livemax",  # workers with their own counters: the one that saw most
        )
        self._audit_ok: Gauge | None = None  # made by the first verification: absent means unknown
        # Resolving label children is the costly part of an update: keep them per label tuple.
        self._children: dict[tuple[str, ...], _Children] = {}
        # The same for the fair queue's two reports, made for every request of a model with a
        # capacity: 6.2 -> 1.4 µs a request_queued, 3.2 -> 0.5 µs a tokens_served (timeit, 2-core box).
        self._queue_children: dict[tuple[str, ...], tuple[Histogram, Counter]] = {}
        self._served_children: dict[tuple[str, str], Counter] = {}

    def request_started(self, endpoint: str, client: ClientChannel) -> RequestTrace | None:
        return None  # Prometheus counts; it does not trace

    def request_finished(self, request: FinishedRequest) -> None:
        endpoint, model, backend, org = request.endpoint, request.model, request.backend, request.org
        key = (endpoint, model, backend, str(request.status), org)
        children = self._children.get(key)
        if children is None:
            children = _Children(
                self.requests.labels(endpoint, model, backend, key[3]),
                self.latency.labels(endpoint, model, backend),
                self.tokens.labels(model, backend, "prompt"),
                self.tokens.labels(model, backend, "completion"),
                self.org_requests.labels(org, key[3]),
                self.org_tokens.labels(org, model, "prompt"),
                self.org_tokens.labels(org, model, "completion"),
                self.org_cost.labels(org, model),
            )
            if len(self._children) < 10_000:  # bounded: label values come from config, but be safe
                self._children[key] = children
        children.requests.inc()
        children.latency.observe(request.seconds)
        children.org_requests.inc()
        if request.prompt_tokens:
            children.prompt.inc(request.prompt_tokens)
            children.org_prompt.inc(request.prompt_tokens)
        if request.completion_tokens:
            children.completion.inc(request.completion_tokens)
            children.org_completion.inc(request.completion_tokens)
        if request.cost_micro_krw:
            children.org_cost.inc(request.cost_micro_krw / 1_000_000)
        if request.ttft_seconds is not None:
            self.ttft.labels(model, backend).observe(request.ttft_seconds)
        if request.status >= 400:
            self.org_errors.labels(org, error_type(request.status, request.error_code) or "").inc()

    def request_refused(
        self, endpoint: str, status: int, code: str | None, trace: RequestTrace | None = None
    ) -> None:
        self.refused.labels(endpoint, str(status)).inc()

    def upstream_failed(self, backend: str, reason: str) -> None:
        self.upstream_errors.labels(backend, reason).inc()

    def request_limited(self, scope: str, limit: str) -> None:
        self.limited.labels(scope, limit).inc()

    def limits_unavailable(self, decision: str) -> None:
        self.limits_store.labels(decision).inc()

    def request_queued(self, model: str, org: str, tier: str, waited_s: float, outcome: str) -> None:
        key = (model, org, tier, outcome)
        children = self._queue_children.get(key)
        if children is None:
            children = (self.queue_wait.labels(model, tier, outcome), self.queue_exits.labels(*key))
            if len(self._queue_children) < 10_000:  # bounded, as _children
                self._queue_children[key] = children
        children[0].observe(waited_s)
        children[1].inc()

    def tokens_served(self, org: str, tier: str, tokens: int) -> None:
        if tokens > 0:
            child = self._served_children.get((org, tier))
            if child is None:
                child = self.served.labels(org, tier)
                if len(self._served_children) < 10_000:
                    self._served_children[org, tier] = child
            child.inc(tokens)

    def residency_refused(self, model: str) -> None:
        self.residency.labels(model).inc()

    def pii_found(self, entity: str, count: int, mode: str) -> None:
        if count > 0:
            self.pii.labels(entity, mode).inc(count)

    def budgets_used(self, ratios: Iterable[tuple[str, float]]) -> None:
        """Each organisation's share of its monthly budget used (``BudgetWatch`` reports it)."""
        if self._shared is None:
            self.budget_used.clear()  # an organisation whose budget was removed leaves the family
        for org, ratio in ratios:
            self.budget_used.labels(org).set(ratio)

    def audit_chain_checked(self, intact: bool) -> None:
        """The last periodic verification of the audit chain: 1 intact, 0 broken."""
        if self._audit_ok is None:
            self._audit_ok = Gauge(
                "onshore_audit_chain_ok",
                "1 when the last periodic verification found the audit chain intact, 0 when broken.",
                registry=self.registry,
                multiprocess_mode="livemin",  # any worker that found it broken says so
            )
        self._audit_ok.set(1.0 if intact else 0.0)

    def add_gauges(
        self,
        name: str,
        doc: str,
        read: Callable[[], Iterable[tuple[str, float]]],
        label: str = "kind",
        mode: GaugeMode = "livesum",
    ) -> None:
        """A gauge family read from this process's state, e.g. the ledger's pending and spooled rows.

        One process: read at scrape time. Several workers: ``mode`` says how the workers' values
        combine (``livesum`` for amounts, ``livemin``/``livemax`` for states), and each worker
        writes its own values when ``refresh`` runs (periodically, and before it answers a scrape).
        """
        if self._shared is None:
            self.registry.register(_CallbackCollector(name, doc, read, label))
        else:
            self._shared.add(Gauge(name, doc, (label,), registry=None, multiprocess_mode=mode), read)

    def refresh(self) -> None:
        """Write this worker's gauge values for the other workers' scrapes (several workers only)."""
        if self._shared is not None:
            self._shared.refresh()

    @property
    def multiprocess(self) -> bool:
        return self._shared is not None

    def render(self) -> bytes:
        if self._shared is not None:
            return self._shared.render()
        return generate_latest(self.registry)


class _Children:
    """One label tuple's children, resolved once (``labels()`` costs more than the update)."""

    __slots__ = (
        "completion",
        "latency",
        "org_completion",
        "org_cost",
        "org_prompt",
        "org_requests",
        "prompt",
        "requests",
    )

    def __init__(
        self,
        requests: Counter,
        latency: Histogram,
        prompt: Counter,
        completion: Counter,
        org_requests: Counter,
        org_prompt: Counter,
        org_completion: Counter,
        org_cost: Counter,
    ) -> None:
        self.requests, self.latency, self.prompt, self.completion = requests, latency, prompt, completion
        self.org_requests, self.org_prompt, self.org_completion = org_requests, org_prompt, org_completion
        self.org_cost = org_cost


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
