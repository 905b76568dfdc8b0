"""The wiring of metrics and traces (docs/observability.md).

Prometheus is always on. OpenTelemetry is imported here only when tracing is configured: with it
off, no ``opentelemetry`` module is ever loaded and the pipeline reports to Prometheus alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from onshore.config.settings import RemoteBackendSettings, Settings
from onshore.gateway.budget_watch import BudgetWatch
from onshore.gateway.periodic import Periodic
from onshore.lifecycle import Lifecycle
from onshore.observability.metrics import GatewayMetrics
from onshore.ports import Telemetry

__all__ = ["MULTIPROC_ENV", "add_upkeep", "build_metrics", "build_telemetry", "otlp_endpoint"]

# prometheus_client's own variable; `onshore serve --workers N` sets it (a fresh directory).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_TRACES_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
# Several workers: how often each writes its gauges (in flight, ledger buffer, health) for the
# others' scrapes; the worker answering a scrape writes its own just before.
_GAUGE_REFRESH_S = 2.0
_BUDGET_WATCH_S = 15.0


def build_metrics(environ: Mapping[str, str]) -> GatewayMetrics:
    return GatewayMetrics(environ.get(MULTIPROC_ENV) or None)


def otlp_endpoint(settings: Settings, environ: Mapping[str, str]) -> str | None:
    """Where spans go (None: tracing off): ``tracing.otlp_endpoint``, else the standard variables."""
    tracing = settings.tracing
    if not tracing.enabled:
        return None
    from_env = environ.get(_TRACES_ENDPOINT_ENV)
    if tracing.otlp_endpoint:
        base, specific = tracing.otlp_endpoint, False
    elif from_env:
        base, specific = from_env, True
    elif environ.get(_ENDPOINT_ENV):
        base, specific = environ[_ENDPOINT_ENV], False
    else:
        return None
    url = base.rstrip("/")
    return url if specific or url.endswith("/v1/traces") else url + "/v1/traces"


def build_telemetry(
    settings: Settings, environ: Mapping[str, str], metrics: GatewayMetrics
) -> tuple[Telemetry, Callable[[], Awaitable[None]] | None]:
    """What the pipeline reports to, and how to flush the spans at shutdown (None: tracing off)."""
    endpoint = otlp_endpoint(settings, environ)
    if endpoint is None:
        return metrics, None
    # Only here: OpenTelemetry is loaded when tracing is on, never otherwise.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
        OTLPSpanExporter,
    )

    from onshore.observability.fanout import TelemetryPair  # noqa: PLC0415
    from onshore.observability.tracing import (  # noqa: PLC0415
        OtelTelemetry,
        build_provider,
        parse_headers,
        servers_of,
    )

    tracing = settings.tracing
    exporter = OTLPSpanExporter(
        endpoint=endpoint, headers=parse_headers(environ.get(tracing.headers_env)), timeout=10
    )
    provider = build_provider(
        service_name=tracing.service_name, sample_ratio=tracing.sample_ratio, exporter=exporter
    )
    urls = {b.name: str(b.url) for b in settings.backends if isinstance(b, RemoteBackendSettings)}
    tracer = OtelTelemetry(provider.get_tracer("onshore"), servers_of(urls))

    async def shutdown() -> None:
        await asyncio.to_thread(provider.shutdown)  # flushes the spans still batched

    return TelemetryPair(metrics, tracer), shutdown


def add_upkeep(
    lifecycle: Lifecycle,
    metrics: GatewayMetrics,
    budgets: BudgetWatch,
    tracing_stop: Callable[[], Awaitable[None]] | None,
) -> None:
    """Register the periodic metric work, and the span flush at shutdown."""
    watch = Periodic("onshore-budget-watch", _BUDGET_WATCH_S, budgets.run_once)
    tasks = [watch]
    if metrics.multiprocess:

        async def refresh() -> None:
            metrics.refresh()

        tasks.append(Periodic("onshore-metrics-refresh", _GAUGE_REFRESH_S, refresh))

    async def start() -> None:
        await budgets.run_once()  # at once: the gauge is there from the first scrape
        for task in tasks:
            task.start()

    async def stop() -> None:
        for task in tasks:
            await task.stop()
        if tracing_stop is not None:
            await tracing_stop()

    lifecycle.add("observability", start=start, stop=stop)
