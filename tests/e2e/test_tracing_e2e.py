"""Traces from the real ``onshore serve``: exported over OTLP/HTTP (protobuf) to a collector stand-in
when configured, with the client's trace joined and the engine given the same trace; and with
tracing off, not one OpenTelemetry module loaded by the process that served requests."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.otlp_collector import OtlpCollector
from tests.support.scripted_engine import ScriptedEngine
from tests.support.services import PYTHON, STARTED, Gateway, make_gateway, stop, wait_http

pytestmark = pytest.mark.slow

PROMPT = "Park Jiwoo asked about the merger terms with Daehan Shipping"
PARENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"

# `onshore serve` in this process, which writes the OpenTelemetry modules it loaded when it exits.
# `onshore serve` drains on SIGTERM and returns (onshore.cli.draining), so atexit writes the list
# after the requests were served; the handler below only covers a signal before serve installs its own.
_SERVE_AND_LIST = """
import atexit, runpy, signal, sys
OUT = sys.argv[1]
def _dump():
    with open(OUT, "w") as out:
        out.write("\\n".join(sorted(m for m in sys.modules if m.split(".")[0] == "opentelemetry")))
atexit.register(_dump)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
sys.argv = ["onshore", "serve", *sys.argv[2:]]
runpy.run_module("onshore", run_name="__main__", alter_sys=True)
"""


@pytest.fixture(scope="module")
def engine() -> Iterator[ScriptedEngine]:
    scripted = ScriptedEngine().start()
    yield scripted
    scripted.stop()


def _gateway(tmp: Path, engine: ScriptedEngine, **extra: object) -> Gateway:
    backend = {
        "name": "engine",
        "url": engine.url,
        "models": [{"name": "chat-model", "upstream_name": "echo"}],
    }
    return make_gateway(tmp, [backend], extra=dict(extra))


def _chat(gw: Gateway, key: str, headers: dict[str, str] | None = None, stream: bool = False) -> None:
    body = {"model": "chat-model", "messages": [{"role": "user", "content": PROMPT}], "stream": stream}
    response = httpx.post(
        gw.v1 + "/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {key}", **(headers or {})},
        timeout=30,
    )
    assert response.status_code == 200, response.text


def test_spans_reach_an_otlp_collector_and_join_the_clients_and_the_engines_trace(
    engine: ScriptedEngine, tmp_path: Path
) -> None:
    collector = OtlpCollector().start()
    gw = _gateway(tmp_path, engine, tracing={"service_name": "onshore-e2e"})
    gw.env["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.endpoint  # the standard variable is honoured
    gw.env["OTEL_EXPORTER_OTLP_HEADERS"] = "authorization=Bearer%20collector-token"
    gw.env["OTEL_BSP_SCHEDULE_DELAY"] = "100"  # export batches every 100 ms, not 5 s
    _, key = gw.create_key("acme")
    gw.start()
    try:
        gw.wait_key_accepted(key)
        before = len(engine.headers)
        _chat(gw, key, {"traceparent": f"00-{PARENT_TRACE}-{PARENT_SPAN}-01"}, stream=True)
        (sent,) = engine.headers[before:]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(
            s.parent_span_id.hex() == PARENT_SPAN for s in collector.spans()
        ):
            time.sleep(0.1)
    finally:
        gw.stop()  # flushes what is still batched
        collector.stop()
    (span,) = [s for s in collector.spans() if s.parent_span_id.hex() == PARENT_SPAN]
    attributes = {a.key: a.value for a in span.attributes}
    assert span.trace_id.hex() == PARENT_TRACE
    assert span.name == "chat chat-model"
    assert attributes["gen_ai.operation.name"].string_value == "chat"
    assert attributes["gen_ai.request.model"].string_value == "chat-model"
    assert attributes["gen_ai.response.model"].string_value == "echo"
    assert attributes["gen_ai.usage.input_tokens"].int_value == 5
    assert attributes["onshore.backend"].string_value == "engine"
    assert attributes["server.port"].int_value == engine.port
    assert sent["traceparent"].startswith(f"00-{PARENT_TRACE}-{span.span_id.hex()}-")
    assert collector.headers[0]["authorization"] == "Bearer collector-token"
    assert collector.headers[0]["content-type"] == "application/x-protobuf"
    for body in collector.bodies:  # the prompt and the echoed answer never leave in a span
        assert PROMPT.encode() not in body and PROMPT[:16].encode() not in body
    assert "Traceback" not in gw.log_text()


def test_tracing_off_loads_no_opentelemetry_and_sends_no_traceparent(
    engine: ScriptedEngine, tmp_path: Path
) -> None:
    gw = _gateway(tmp_path, engine)
    gw.env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    gw.env.pop("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", None)
    _, key = gw.create_key("acme")
    loaded = tmp_path / "otel-modules.txt"
    command = [PYTHON, "-c", _SERVE_AND_LIST, str(loaded), "--config", str(gw.config_path)]
    proc = subprocess.Popen(
        [*command, "--port", str(gw.port)],
        env=gw.env,
        stdout=gw.log_path.open("ab"),
        stderr=subprocess.STDOUT,
    )
    STARTED.append(proc)
    try:
        wait_http(gw.base_url + "/healthz", timeout=30, proc=proc)
        gw.wait_key_accepted(key)
        before = len(engine.headers)
        _chat(gw, key, {"traceparent": f"00-{PARENT_TRACE}-{PARENT_SPAN}-01"})
        _chat(gw, key, stream=True)
        assert all("traceparent" not in h for h in engine.headers[before:])
        assert httpx.get(gw.base_url + "/metrics").status_code == 200
    finally:
        assert stop(proc) == 0, gw.log_text()
    assert loaded.read_text() == ""  # the process that served the requests never imported it
