"""Where spans go and what is imported: the ``tracing:`` settings and the standard OTEL_* variables,
the exporter's headers, bounded error types, and no OpenTelemetry import with tracing off."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from onshore.bootstrap.observability import build_metrics, build_telemetry, otlp_endpoint
from onshore.config.settings import Settings
from onshore.observability.labels import KNOWN_ERROR_CODES, error_type
from onshore.observability.metrics import GatewayMetrics
from onshore.observability.tracing import parse_headers, servers_of


def _settings(tmp_path: Path, **tracing: object) -> Settings:
    return Settings(data_dir=tmp_path, tracing=tracing)


@pytest.mark.parametrize(
    ("tracing", "environ", "expected"),
    [
        ({}, {}, None),
        ({"otlp_endpoint": "http://otel:4318"}, {}, "http://otel:4318/v1/traces"),
        ({"otlp_endpoint": "https://otel:4318/v1/traces"}, {}, "https://otel:4318/v1/traces"),
        ({}, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"}, "http://c:4318/v1/traces"),
        ({}, {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:9/custom"}, "http://c:9/custom"),
        (
            {"otlp_endpoint": "http://file:4318"},
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://env:4318"},
            "http://file:4318/v1/traces",
        ),
        ({"enabled": False}, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, None),
    ],
    ids=["off", "file", "file-full", "env-base", "env-traces", "file-wins", "disabled"],
)
def test_where_spans_go(
    tmp_path: Path, tracing: dict[str, object], environ: dict[str, str], expected: str | None
) -> None:
    assert otlp_endpoint(_settings(tmp_path, **tracing), environ) == expected


def test_a_bad_endpoint_or_ratio_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="otlp_endpoint"):
        _settings(tmp_path, otlp_endpoint="otel:4318")
    with pytest.raises(ValueError, match="sample_ratio"):
        _settings(tmp_path, sample_ratio=1.5)


def test_headers_are_read_as_otel_writes_them() -> None:
    assert parse_headers("Authorization=Bearer%20abc, x-scope = team-7,broken") == {
        "authorization": "Bearer abc",
        "x-scope": "team-7",
    }
    assert parse_headers(None) == {}


def test_servers_are_the_backends_hosts_and_ports() -> None:
    urls = {"a": "http://10.0.0.7:8000/v1", "b": "https://vllm.example/v1", "c": "not a url"}
    assert servers_of(urls) == {"a": ("10.0.0.7", 8000), "b": ("vllm.example", 443)}


def test_error_types_are_bounded() -> None:
    assert error_type(200, None) is None
    assert error_type(429, "insufficient_quota") == "insufficient_quota"
    assert error_type(400, "an engine's <anything>") == "400"  # never a new label value
    assert {"upstream_timeout", "invalid_api_key", "cancelled"} <= KNOWN_ERROR_CODES


def test_tracing_off_gives_prometheus_alone(tmp_path: Path) -> None:
    metrics = build_metrics({})
    telemetry, stop = build_telemetry(_settings(tmp_path), {}, metrics)
    assert telemetry is metrics and stop is None
    assert isinstance(metrics, GatewayMetrics) and not metrics.multiprocess


def test_tracing_off_imports_no_opentelemetry(tmp_path: Path) -> None:
    # A fresh interpreter: this test process has OpenTelemetry loaded by other tests.
    script = f"""
import sys
from onshore.api.factory import create_app
from onshore.bootstrap import build_services
from onshore.config.settings import Settings
build_services(Settings(data_dir={str(tmp_path)!r}, backends=[]), environ={{}})
loaded = [m for m in sys.modules if m.split(".")[0] == "opentelemetry"]
assert not loaded, loaded
print("ok")
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.stdout.strip() == "ok", result.stderr
