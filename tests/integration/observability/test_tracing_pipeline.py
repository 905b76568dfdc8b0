"""Traces of the real pipeline in front of a real HTTP engine (the scripted engine, over aiohttp):
one span per request with the GenAI attributes and never any content, the backend sent a
``traceparent`` of that very span, a client's ``traceparent`` the span's parent; and with tracing
off, no span and no ``traceparent`` at all."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from tests.support.fakes import FakeClient, ListSink, ManualClock
from tests.support.scripted_engine import ScriptedEngine
from tests.support.services import free_port

from onshore.backends.upstream import RemoteBackend
from onshore.config.settings import RemoteBackendSettings
from onshore.domain.catalog import Endpoint, ModelRoute
from onshore.domain.keys import KeyDigester
from onshore.domain.tenancy import ApiKey
from onshore.errors import OnshoreError
from onshore.gateway.auth import Authenticator, KeyCache
from onshore.gateway.chain import Handler
from onshore.gateway.context import RequestContext
from onshore.gateway.pipeline import build_pipeline
from onshore.gateway.routing import Router
from onshore.observability.fanout import TelemetryPair
from onshore.observability.metrics import GatewayMetrics
from onshore.observability.tracing import OtelTelemetry, build_provider
from onshore.ports import Telemetry

DIGESTER = KeyDigester(b"x" * 32)
SECRET = "sk-onshore-" + "t" * 40
AUTH = {b"authorization": f"Bearer {SECRET}".encode()}
PROMPT = "Kim Minji's contract renewal, clause seventeen, please summarise"  # must never be traced
PARENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"
TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")


@pytest.fixture(scope="module")
def engine() -> Iterator[ScriptedEngine]:
    scripted = ScriptedEngine().start()
    yield scripted
    scripted.stop()


@dataclass
class Gateway:
    pipeline: Handler
    spans: InMemorySpanExporter
    engine: ScriptedEngine

    async def send(
        self,
        endpoint: Endpoint,
        body: Mapping[str, object],
        headers: dict[bytes, bytes] | None = None,
    ) -> FakeClient:
        client = FakeClient(orjson.dumps(body), {**AUTH, **(headers or {})})
        clock = ManualClock()
        ctx = RequestContext("req_trace", endpoint, client, clock.monotonic(), clock.now())
        await run(self.pipeline, ctx)
        return client


async def run(pipeline: Handler, ctx: RequestContext) -> None:
    """As the API face does: an error raised before the answer started becomes the answer."""
    try:
        await pipeline(ctx)
    except OnshoreError as exc:
        assert isinstance(ctx.client, FakeClient)
        ctx.client.status = exc.status


def _cache() -> KeyCache:
    cache = KeyCache()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    cache.apply([ApiKey("key_1", "org_1", "k", DIGESTER.digest(SECRET), SECRET[:16], now)], now=now)
    return cache


async def _gateway(engine: ScriptedEngine, tracing: bool) -> AsyncIterator[Gateway]:
    settings = RemoteBackendSettings(
        name="engine", url=engine.url, models=[{"name": "echo"}], jurisdiction="KR"
    )
    dead = RemoteBackendSettings(
        name="dead", url=f"http://127.0.0.1:{free_port()}/v1", models=[{"name": "gone"}]
    )
    backends = [RemoteBackend(settings), RemoteBackend(dead)]
    for backend in backends:
        await backend.start()
    routes = [
        ModelRoute("chat-model", "echo", "engine", "KR"),
        ModelRoute("text-model", "text-upstream", "engine", "KR"),
        ModelRoute("embed-model", "embed-upstream", "engine", "KR"),
        ModelRoute("flat-400", "flat-400", "engine", "KR"),
        ModelRoute("gone", "gone", "dead", "KR"),
    ]
    clock = ManualClock()
    spans = InMemorySpanExporter()
    telemetry: Telemetry = GatewayMetrics()
    if tracing:
        provider = build_provider(
            service_name="onshore-test", sample_ratio=1.0, processor=SimpleSpanProcessor(spans)
        )
        otel = OtelTelemetry(provider.get_tracer("test"), {"engine": ("127.0.0.1", engine.port)})
        telemetry = TelemetryPair(telemetry, otel)
    pipeline = build_pipeline(
        authenticator=Authenticator(DIGESTER, _cache()),
        router=Router(backends, routes, clock),
        sink=ListSink(),
        telemetry=telemetry,
        clock=clock,
        max_body_bytes=1 << 20,
    )
    try:
        yield Gateway(pipeline, spans, engine)
    finally:
        for backend in backends:
            await backend.aclose()


@pytest.fixture
async def traced(engine: ScriptedEngine) -> AsyncIterator[Gateway]:
    async for gateway in _gateway(engine, tracing=True):
        yield gateway


@pytest.fixture
async def untraced(engine: ScriptedEngine) -> AsyncIterator[Gateway]:
    async for gateway in _gateway(engine, tracing=False):
        yield gateway


def _chat(stream: bool) -> dict[str, object]:
    return {"model": "chat-model", "messages": [{"role": "user", "content": PROMPT}], "stream": stream}


def _only_span(gateway: Gateway) -> ReadableSpan:
    spans = gateway.spans.get_finished_spans()
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def _no_content(span: ReadableSpan, *texts: str) -> None:
    for value in (span.attributes or {}).values():
        for text in texts:
            assert text not in str(value)
    assert PROMPT not in span.name
    assert not span.events  # nothing that could carry text


def _traceparent_sent(gateway: Gateway, span: ReadableSpan) -> None:
    sent = gateway.engine.headers[-1].get("traceparent")
    assert sent is not None
    found = TRACEPARENT.match(sent)
    assert found is not None, sent
    context = span.get_span_context()
    assert context is not None
    assert found.group(1) == f"{context.trace_id:032x}"  # the engine's spans join this trace
    assert found.group(2) == f"{context.span_id:016x}"  # ... as children of the gateway's span


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
async def test_a_chat_request_is_one_span_with_the_genai_attributes(traced: Gateway, stream: bool) -> None:
    client = await traced.send(Endpoint.CHAT, _chat(stream))
    assert client.status == 200 and PROMPT[:4].encode() in client.text  # the echo engine answered
    span = _only_span(traced)
    attributes = dict(span.attributes or {})
    assert span.name == "chat chat-model" and span.kind is SpanKind.SERVER
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.request.model"] == "chat-model"
    assert attributes["gen_ai.response.model"] == "echo"
    assert attributes["gen_ai.usage.input_tokens"] == 5
    assert isinstance(attributes["gen_ai.usage.output_tokens"], int)
    assert attributes["gen_ai.usage.output_tokens"] > 0
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["server.port"] == traced.engine.port
    assert attributes["onshore.backend"] == "engine"
    assert attributes["onshore.jurisdiction"] == "KR"
    assert attributes["onshore.org_id"] == "org_1"
    assert attributes["onshore.stream"] is stream
    assert attributes["http.response.status_code"] == 200
    assert "error.type" not in attributes
    assert span.parent is None  # no traceparent came in: a new trace
    _no_content(span, PROMPT, PROMPT[:20])
    _traceparent_sent(traced, span)


async def test_a_completion_is_a_text_completion_span(traced: Gateway) -> None:
    client = await traced.send(Endpoint.COMPLETIONS, {"model": "text-model", "prompt": PROMPT})
    assert client.status == 200
    span = _only_span(traced)
    attributes = dict(span.attributes or {})
    assert attributes["gen_ai.operation.name"] == "text_completion"
    assert attributes["gen_ai.request.model"] == "text-model"
    assert attributes["gen_ai.response.model"] == "text-upstream"
    assert attributes["gen_ai.usage.input_tokens"] == len(PROMPT) // 4
    assert attributes["gen_ai.usage.output_tokens"] == 1
    answer = orjson.loads(client.text)["choices"][0]["text"]
    _no_content(span, PROMPT, f'"{answer}"')
    assert answer not in attributes.values()
    _traceparent_sent(traced, span)


async def test_an_embeddings_request_is_an_embeddings_span(traced: Gateway) -> None:
    client = await traced.send(Endpoint.EMBEDDINGS, {"model": "embed-model", "input": [PROMPT, PROMPT]})
    assert client.status == 200
    span = _only_span(traced)
    attributes = dict(span.attributes or {})
    assert span.name == "embeddings embed-model"
    assert attributes["gen_ai.operation.name"] == "embeddings"
    assert attributes["gen_ai.usage.input_tokens"] == 1
    _no_content(span, PROMPT)
    _traceparent_sent(traced, span)


async def test_an_engine_refusal_sets_error_type(traced: Gateway) -> None:
    body = {"model": "flat-400", "messages": [{"role": "user", "content": PROMPT}]}
    client = await traced.send(Endpoint.CHAT, body)
    assert client.status == 400
    span = _only_span(traced)
    attributes = dict(span.attributes or {})
    assert attributes["http.response.status_code"] == 400
    assert attributes["error.type"] == "400"  # the engine's numeric code is no type of ours
    assert span.status.status_code is StatusCode.UNSET  # a 4xx is the client's, not the server's
    _no_content(span, PROMPT, "maximum context length")  # nor the engine's error message


async def test_a_backend_that_is_down_sets_error_type_and_the_error_status(traced: Gateway) -> None:
    body = {"model": "gone", "messages": [{"role": "user", "content": PROMPT}]}
    client = await traced.send(Endpoint.CHAT, body)
    assert client.status == 502
    span = _only_span(traced)
    attributes = dict(span.attributes or {})
    assert attributes["error.type"] == "upstream_unavailable"
    assert attributes["onshore.backend"] == "dead"
    assert span.status.status_code is StatusCode.ERROR


async def test_a_refused_key_is_one_span_too(traced: Gateway) -> None:
    client = FakeClient(orjson.dumps(_chat(False)), {b"authorization": b"Bearer sk-onshore-nope"})
    clock = ManualClock()
    await run(traced.pipeline, RequestContext("req_x", Endpoint.CHAT, client, clock.monotonic(), clock.now()))
    assert client.status == 401
    attributes = dict(_only_span(traced).attributes or {})
    assert attributes["error.type"] == "invalid_api_key"
    assert "onshore.org_id" not in attributes


async def test_a_client_traceparent_makes_the_gateway_span_its_child(traced: Gateway) -> None:
    incoming = f"00-{PARENT_TRACE}-{PARENT_SPAN}-01".encode()
    await traced.send(Endpoint.CHAT, _chat(False), {b"traceparent": incoming})
    span = _only_span(traced)
    context, parent = span.get_span_context(), span.parent
    assert context is not None and parent is not None
    assert f"{context.trace_id:032x}" == PARENT_TRACE
    assert f"{parent.span_id:016x}" == PARENT_SPAN and parent.is_remote
    _traceparent_sent(traced, span)


async def test_a_malformed_traceparent_starts_a_new_trace(traced: Gateway) -> None:
    await traced.send(Endpoint.CHAT, _chat(False), {b"traceparent": b"00-zz-not-a-trace"})
    span = _only_span(traced)
    assert span.parent is None
    _traceparent_sent(traced, span)


async def test_tracing_off_sends_no_traceparent(untraced: Gateway) -> None:
    before = len(untraced.engine.headers)
    incoming = f"00-{PARENT_TRACE}-{PARENT_SPAN}-01".encode()
    client = await untraced.send(Endpoint.CHAT, _chat(True), {b"traceparent": incoming})
    assert client.status == 200
    (headers,) = untraced.engine.headers[before:]
    assert "traceparent" not in headers  # nor the client's: the gateway passes on no headers
    assert untraced.spans.get_finished_spans() == ()
