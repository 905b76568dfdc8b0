"""The ``Telemetry`` contract, run against every implementation: Prometheus, OpenTelemetry, both
together (what the server runs with tracing on) and the recording one. Every call is accepted with
any values the pipeline can produce; a request's reports begin with ``request_started`` and end with
``request_finished`` or ``request_refused``; what was reported can be read back."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from onshore.gateway.memory import RecordingTelemetry
from onshore.observability.fanout import TelemetryPair
from onshore.observability.metrics import GatewayMetrics
from onshore.observability.tracing import OtelTelemetry, build_provider
from onshore.ports import FinishedRequest, RequestTrace, Telemetry
from tests.support.fakes import FakeClient

Reader = Callable[[], tuple[int, int]]  # (finished, refused)
TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


def _prometheus() -> tuple[Telemetry, Reader]:
    metrics = GatewayMetrics()

    def read() -> tuple[int, int]:
        return _total(metrics, "onshore_requests"), _total(metrics, "onshore_requests_refused")

    return metrics, read


def _total(metrics: GatewayMetrics, name: str) -> int:
    text = metrics.render().decode()
    return int(sum(float(v) for v in re.findall(rf"^{name}_total{{[^}}]*}} ([0-9.e+]+)$", text, re.M)))


def _otel() -> tuple[Telemetry, Reader]:
    spans = InMemorySpanExporter()
    provider = build_provider(service_name="t", sample_ratio=1.0, processor=SimpleSpanProcessor(spans))
    telemetry = OtelTelemetry(provider.get_tracer("t"), {"a": ("10.0.0.7", 8000)})

    def read() -> tuple[int, int]:
        finished = spans.get_finished_spans()
        refused = sum(1 for s in finished if "onshore.org_id" not in (s.attributes or {}))
        return len(finished) - refused, refused

    return telemetry, read


def _both() -> tuple[Telemetry, Reader]:
    metrics, read_metrics = _prometheus()
    otel, read_spans = _otel()

    def read() -> tuple[int, int]:
        counted, traced = read_metrics(), read_spans()
        assert counted[0] == traced[0]  # every finished request counted is traced, and back
        return counted

    return TelemetryPair(metrics, otel), read


def _recording() -> tuple[Telemetry, Reader]:
    telemetry = RecordingTelemetry()
    return telemetry, lambda: (len(telemetry.finished), len(telemetry.refused))


IMPLEMENTATIONS = {"prometheus": _prometheus, "otel": _otel, "both": _both, "recording": _recording}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def telemetry(request: pytest.FixtureRequest) -> tuple[Telemetry, Reader]:
    return IMPLEMENTATIONS[request.param]()


def _client(headers: dict[bytes, bytes] | None = None) -> FakeClient:
    return FakeClient(b"{}", headers)


def _finished(
    trace: RequestTrace | None, status: int = 200, ttft: float | None = 0.1, model: str = "m"
) -> FinishedRequest:
    return FinishedRequest(
        "chat.completions",
        model,
        "a",
        status,
        0.5,
        ttft,
        10,
        5,
        org="kakao",
        org_id="org_1",
        error_code=None if status < 400 else "upstream_error",
        cost_micro_krw=1_500_000,
        jurisdiction="KR",
        upstream_model="m-upstream",
        streamed=ttft is not None,
        request_id="req_1",
        trace=trace,
    )


def test_what_is_reported_can_be_read_back(telemetry: tuple[Telemetry, Reader]) -> None:
    sink, read = telemetry
    sink.request_finished(_finished(sink.request_started("chat.completions", _client())))
    sink.request_finished(_finished(sink.request_started("chat.completions", _client()), 502, None))
    trace = sink.request_started("chat.completions", _client())
    sink.request_refused("chat.completions", 401, "invalid_api_key", trace)
    sink.upstream_failed("a", "bad_json")
    assert read() == (2, 1)


def test_odd_but_possible_values_are_accepted(telemetry: tuple[Telemetry, Reader]) -> None:
    sink, read = telemetry
    odd = FinishedRequest("embeddings", "", "", 499, 0.0, None, 0, 0, trace=None)
    trace = sink.request_started("embeddings", _client({b"traceparent": b"garbage"}))
    sink.request_finished(replace(odd, trace=trace))
    sink.request_refused("embeddings", 413, None, sink.request_started("embeddings", _client()))
    sink.request_refused("completions", 400, "engine's own: code", None)  # started by nobody
    sink.upstream_failed("b", "http_429")
    sink.residency_refused("m")
    sink.pii_found("KR_RRN", 2, "redact")
    sink.pii_found("KR_RRN", 0, "detect")
    assert read()[0] == 1


def test_a_trace_is_none_or_carries_a_w3c_traceparent(telemetry: tuple[Telemetry, Reader]) -> None:
    sink, _ = telemetry
    incoming = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    for client in (_client(), _client({b"traceparent": incoming, b"tracestate": b"k=v"})):
        trace = sink.request_started("completions", client)
        if trace is not None:
            assert TRACEPARENT.match(trace.traceparent)
        sink.request_finished(_finished(trace))


def test_ending_a_trace_twice_changes_nothing(telemetry: tuple[Telemetry, Reader]) -> None:
    sink, read = telemetry
    trace = sink.request_started("chat.completions", _client())
    sink.request_refused("chat.completions", 401, "invalid_api_key", trace)
    before = read()
    sink.request_refused("chat.completions", 401, "invalid_api_key", trace)
    assert read()[0] == before[0]


def test_admission_and_queue_reports_are_accepted(telemetry: tuple[Telemetry, Reader]) -> None:
    sink, read = telemetry
    sink.request_limited("key", "rpm")
    sink.request_limited("organization", "monthly_budget_krw")
    sink.limits_unavailable("open")
    sink.limits_unavailable("settle_failed")
    sink.request_queued("m", "kakao", "priority", 0.25, "admitted")
    sink.request_queued("m", "toss", "batch", 30.0, "timeout")
    sink.request_queued("m", "toss", "batch", 0.0, "left")
    sink.tokens_served("kakao", "priority", 120)
    sink.tokens_served("kakao", "priority", 0)
    assert read() == (0, 0)  # none of these is a finished or refused request


@pytest.mark.parametrize("make", [_prometheus, _recording], ids=["prometheus", "recording"])
def test_counting_adapters_count_upstream_failures(make: Callable[[], tuple[Telemetry, Reader]]) -> None:
    sink, _ = make()
    sink.upstream_failed("a", "bad_json")
    if isinstance(sink, GatewayMetrics):
        assert _total(sink, "onshore_upstream_errors") == 1
    else:
        assert isinstance(sink, RecordingTelemetry) and sink.failures == [("a", "bad_json")]


def test_prometheus_names_the_admission_series() -> None:
    metrics = GatewayMetrics()
    metrics.request_limited("key", "tpm")
    metrics.limits_unavailable("closed")
    metrics.request_queued("m", "kakao", "standard", 0.5, "admitted")
    metrics.tokens_served("kakao", "standard", 42)
    text = metrics.render().decode()
    assert 'onshore_requests_limited_total{limit="tpm",scope="key"} 1.0' in text
    assert 'onshore_limits_store_unavailable_total{decision="closed"} 1.0' in text
    assert (
        'onshore_queue_requests_total{model="m",org="kakao",outcome="admitted",tier="standard"} 1.0' in text
    )
    assert 'onshore_fair_share_tokens_total{org="kakao",tier="standard"} 42.0' in text


def test_prometheus_names_the_organisation_series() -> None:
    metrics = GatewayMetrics()
    metrics.request_finished(_finished(None))
    metrics.request_finished(_finished(None, status=502, ttft=None))
    bad = FinishedRequest("completions", "m", "a", 400, 0.1, None, 0, 0, org="kakao", error_code="x; y")
    metrics.request_finished(bad)
    metrics.budgets_used([("kakao", 0.93)])
    metrics.audit_chain_checked(False)
    text = metrics.render().decode()
    assert 'onshore_org_requests_total{org="kakao",status="200"} 1.0' in text
    assert 'onshore_org_tokens_total{kind="prompt",model="m",org="kakao"} 20.0' in text
    assert 'onshore_org_cost_krw_total{model="m",org="kakao"} 3.0' in text
    assert 'onshore_org_errors_total{org="kakao",type="upstream_error"} 1.0' in text
    assert 'onshore_org_errors_total{org="kakao",type="400"} 1.0' in text  # an engine's code: bounded
    assert 'onshore_org_budget_used_ratio{org="kakao"} 0.93' in text
    assert "onshore_audit_chain_ok 0.0" in text
    metrics.budgets_used([])  # the budget was removed: the series goes
    assert "onshore_org_budget_used_ratio{" not in metrics.render().decode()
