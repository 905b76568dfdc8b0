"""The pipeline against test doubles that implement the real ports (no HTTP server involved)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import orjson
import pytest

from onshore.domain.catalog import Endpoint, ModelRoute
from onshore.domain.tenancy import Principal
from onshore.domain.usage import UsageRecord
from onshore.errors import (
    ModelNotFound,
    PermissionDenied,
    UpstreamError,
    UpstreamRejected,
    UpstreamUnavailable,
)
from onshore.gateway.auth import Authenticator, KeyCache
from onshore.gateway.context import RequestContext
from onshore.gateway.keys import KeyDigester
from onshore.gateway.metering import Meter
from onshore.gateway.pipeline import Complete, Gateway, Streaming
from onshore.gateway.routing import Router
from onshore.observability.metrics import GatewayMetrics
from onshore.ports import BackendCall

USAGE = {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}


class Reply:
    def __init__(
        self, status: int, body: bytes = b"", chunks: list[bytes] | None = None, fail_after: int = -1
    ):
        self.status, self._body, self._chunks, self._fail_after = status, body, chunks or [], fail_after
        self.closed = False

    async def read(self) -> bytes:
        return self._body

    async def chunks(self) -> AsyncIterator[bytes]:
        for index, chunk in enumerate(self._chunks):
            if index == self._fail_after:
                raise UpstreamError
            yield chunk

    async def aclose(self) -> None:
        self.closed = True


class Backend:
    kind = "fake"

    def __init__(self, name: str, reply: Reply | Exception):
        self.name, self.reply, self.calls = name, reply, []  # type: ignore[var-annotated]

    async def start(self) -> None: ...
    async def aclose(self) -> None: ...
    async def check_health(self) -> bool:
        return True

    async def send(self, call: BackendCall) -> Reply:
        self.calls.append(call)
        if isinstance(self.reply, Exception):
            raise self.reply
        return self.reply


class Sink:
    def __init__(self) -> None:
        self.rows: list[UsageRecord] = []

    def submit(self, record: UsageRecord) -> None:
        self.rows.append(record)


def _gateway(*backends: Backend, upstream_name: str = "m") -> tuple[Gateway, Sink]:
    sink = Sink()
    metrics = GatewayMetrics()
    router = Router(backends, [ModelRoute("m", upstream_name, b.name) for b in backends])
    auth = Authenticator(KeyDigester(b"x" * 32), KeyCache())
    return Gateway(auth, router, Meter(sink, metrics), metrics), sink


def _ctx(models: frozenset[str] | None = None) -> RequestContext:
    ctx = RequestContext("req_1", Endpoint.CHAT)
    ctx.principal = Principal("key_1", "org_1", "acme", models, None)
    return ctx


BODY = b'{"model":"m","messages":[{"role":"user","content":"hi"}]}'
STREAM_BODY = b'{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}'


def _sse(payload: object) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


async def test_complete_reply_learns_usage_and_hides_the_alias() -> None:
    body = orjson.dumps({"model": "org/real", "choices": [], "usage": USAGE})
    gateway, sink = _gateway(Backend("a", Reply(200, body)), upstream_name="org/real")
    ctx = _ctx()
    result = await gateway.handle(ctx, BODY)
    assert isinstance(result, Complete)
    assert orjson.loads(result.body)["model"] == "m"
    assert (ctx.prompt_tokens, ctx.completion_tokens, ctx.status) == (4, 2, 200)
    gateway.meter.record(ctx)
    assert sink.rows[0].total_tokens == 6 and sink.rows[0].backend == "a"


async def test_unreachable_backend_falls_over_to_the_next() -> None:
    good = Backend("b", Reply(200, orjson.dumps({"model": "m", "usage": USAGE})))
    gateway, _ = _gateway(Backend("a", UpstreamUnavailable()), good)
    for _ in range(3):
        assert isinstance(await gateway.handle(_ctx(), BODY), Complete)
    assert len(good.calls) == 3
    assert gateway.router.states["a"].down_since is not None


async def test_all_unreachable_is_502() -> None:
    gateway, _ = _gateway(Backend("a", UpstreamUnavailable()), Backend("b", UpstreamUnavailable()))
    with pytest.raises(UpstreamUnavailable):
        await gateway.handle(_ctx(), BODY)
    assert all(s.in_flight == 0 for s in gateway.router.states.values())


async def test_engine_4xx_keeps_its_status_and_message() -> None:
    error = orjson.dumps(
        {"error": {"message": "context too long", "type": "x", "param": "messages", "code": None}}
    )
    gateway, _ = _gateway(Backend("a", Reply(400, error)))
    with pytest.raises(UpstreamRejected) as info:
        await gateway.handle(_ctx(), BODY)
    assert (info.value.status, info.value.message, info.value.param) == (400, "context too long", "messages")


@pytest.mark.parametrize("status", [500, 503, 401])
async def test_engine_5xx_and_auth_failures_are_502(status: int) -> None:
    gateway, _ = _gateway(Backend("a", Reply(status, b"internal detail at 10.0.0.5")))
    with pytest.raises(UpstreamError) as info:
        await gateway.handle(_ctx(), BODY)
    assert info.value.status == 502 and "10.0.0.5" not in info.value.message


async def test_policy_runs_before_any_backend_call() -> None:
    backend = Backend("a", Reply(200, b"{}"))
    gateway, _ = _gateway(backend)
    with pytest.raises(PermissionDenied):
        await gateway.handle(_ctx(frozenset({"other"})), BODY)
    with pytest.raises(ModelNotFound):
        await gateway.handle(_ctx(), b'{"model":"nope","messages":[{"role":"user"}]}')
    assert backend.calls == []


async def test_stream_strips_usage_and_records_it() -> None:
    chunks = [
        _sse({"model": "m", "choices": [{"delta": {"content": "x"}}]}),
        _sse({"model": "m", "choices": [], "usage": USAGE}),
        b"data: [DONE]\n\n",
    ]
    reply = Reply(200, chunks=chunks)
    backend = Backend("a", reply)
    gateway, _ = _gateway(backend)
    ctx = _ctx()
    result = await gateway.handle(ctx, STREAM_BODY)
    assert isinstance(result, Streaming)
    out = b"".join([c async for c in result.events])
    assert b"usage" not in out and out.endswith(b"data: [DONE]\n\n")
    assert orjson.loads(backend.calls[0].body)["stream_options"] == {"include_usage": True}
    assert (ctx.status, ctx.completion_tokens, reply.closed) == (200, 2, True)
    assert ctx.first_byte_at is not None and gateway.router.states["a"].in_flight == 0


async def test_stream_failure_ends_with_an_error_event() -> None:
    chunks = [_sse({"model": "m", "choices": [{"delta": {"content": "x"}}]})] * 3
    gateway, _ = _gateway(Backend("a", Reply(200, chunks=chunks, fail_after=1)))
    ctx = _ctx()
    result = await gateway.handle(ctx, STREAM_BODY)
    assert isinstance(result, Streaming)
    out = [c async for c in result.events]
    assert b'"error"' in out[-1] and ctx.status == 502


async def test_truncated_stream_is_reported() -> None:
    gateway, _ = _gateway(Backend("a", Reply(200, chunks=[_sse({"model": "m", "choices": []})])))
    ctx = _ctx()
    result = await gateway.handle(ctx, STREAM_BODY)
    assert isinstance(result, Streaming)
    out = [c async for c in result.events]
    assert b"upstream_stream_truncated" in out[-1] and ctx.status == 502


def test_meter_never_labels_unrouted_models() -> None:
    sink = Sink()
    metrics = GatewayMetrics()
    ctx = _ctx()
    ctx.model, ctx.status = "typo-" + "x" * 50, 404
    Meter(sink, metrics).record(ctx)
    Meter(sink, metrics).record(ctx)  # a second call records nothing more
    assert len(sink.rows) == 1 and sink.rows[0].model == ctx.model
    assert b"typo-" not in metrics.render()
    assert sink.rows[0].created_at <= datetime.now(UTC)
