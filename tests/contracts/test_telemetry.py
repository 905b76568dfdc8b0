"""The ``Telemetry`` contract, run against Prometheus and the recording implementation: every call
is accepted with any values the pipeline can produce, and what was reported can be read back."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from onshore.gateway.memory import RecordingTelemetry
from onshore.observability.metrics import GatewayMetrics
from onshore.ports import FinishedRequest, Telemetry

Reader = Callable[[], tuple[int, int, int]]  # (finished, refused, upstream failures)


def _prometheus() -> tuple[Telemetry, Reader]:
    metrics = GatewayMetrics()

    def read() -> tuple[int, int, int]:
        text = metrics.render().decode()

        def total(name: str) -> int:
            return int(
                sum(float(v) for v in re.findall(rf"^{name}_total{{[^}}]*}} ([0-9.e+]+)$", text, re.M))
            )

        return total("onshore_requests"), total("onshore_requests_refused"), total("onshore_upstream_errors")

    return metrics, read


def _recording() -> tuple[Telemetry, Reader]:
    telemetry = RecordingTelemetry()
    return telemetry, lambda: (len(telemetry.finished), len(telemetry.refused), len(telemetry.failures))


@pytest.fixture(params=["prometheus", "recording"])
def telemetry(request: pytest.FixtureRequest) -> tuple[Telemetry, Reader]:
    return _prometheus() if request.param == "prometheus" else _recording()


def _finished(status: int = 200, ttft: float | None = 0.1, model: str = "m") -> FinishedRequest:
    return FinishedRequest("chat.completions", model, "a", status, 0.5, ttft, 10, 5)


def test_what_is_reported_can_be_read_back(telemetry: tuple[Telemetry, Reader]) -> None:
    sink, read = telemetry
    sink.request_finished(_finished())
    sink.request_finished(_finished(status=502, ttft=None))
    sink.request_refused("chat.completions", 401, "invalid_api_key")
    sink.upstream_failed("a", "bad_json")
    assert read() == (2, 1, 1)


def test_odd_but_possible_values_are_accepted(telemetry: tuple[Telemetry, Reader]) -> None:
    sink, read = telemetry
    sink.request_finished(_finished(status=499, ttft=None, model=""))
    sink.request_refused("embeddings", 413, None)
    sink.upstream_failed("b", "http_429")
    assert read() == (1, 1, 1)


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
    assert read() == (0, 0, 0)  # none of these is a finished, refused or failed request


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
