"""The pipeline's steps on port fakes: every way a request ends releases what it held exactly once
and writes exactly one ledger row (no HTTP server; ``tests/e2e`` drives the real one)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import orjson
import pytest

from onshore.domain.catalog import Endpoint, ModelRoute
from onshore.domain.keys import KeyDigester
from onshore.domain.tenancy import ApiKey
from onshore.errors import (
    AuthenticationFailed,
    ClientClosed,
    InvalidRequest,
    ModelNotFound,
    OnshoreError,
    PermissionDenied,
    RateLimited,
    UpstreamError,
    UpstreamRejected,
    UpstreamUnavailable,
)
from onshore.gateway.auth import Authenticator, KeyCache
from onshore.gateway.chain import Handler
from onshore.gateway.context import RequestContext
from onshore.gateway.memory import RecordingTelemetry
from onshore.gateway.pipeline import build_pipeline
from onshore.gateway.routing import Router
from tests.support.fakes import FakeBackend, FakeClient, FakeReply, ListSink, ManualClock

USAGE = {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}
DIGESTER = KeyDigester(b"x" * 32)
SECRET = "sk-onshore-" + "a" * 40
AUTH = {b"authorization": f"Bearer {SECRET}".encode()}


def _cache(models: tuple[str, ...] | None = None) -> KeyCache:
    cache = KeyCache()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    cache.apply(
        [ApiKey("key_1", "org_1", "k", DIGESTER.digest(SECRET), SECRET[:16], now, models=models)], now=now
    )
    return cache


class Harness:
    def __init__(
        self, *backends: FakeBackend, upstream_name: str = "m", models: tuple[str, ...] | None = None
    ):
        self.clock = ManualClock()
        self.sink = ListSink()
        self.telemetry = RecordingTelemetry()
        self.backends = backends
        self.router = Router(backends, [ModelRoute("m", upstream_name, b.name) for b in backends], self.clock)
        self.cache = _cache(models)
        self.pipeline: Handler = build_pipeline(
            authenticator=Authenticator(DIGESTER, self.cache),
            router=self.router,
            sink=self.sink,
            telemetry=self.telemetry,
            clock=self.clock,
            max_body_bytes=1 << 20,
            drain_s=0.2,
        )

    def context(self, client: FakeClient, endpoint: Endpoint = Endpoint.CHAT) -> RequestContext:
        return RequestContext("req_1", endpoint, client, self.clock.monotonic(), self.clock.now(), "client-7")

    async def run(
        self, body: dict[str, object] | bytes, headers: dict[bytes, bytes] | None = None
    ) -> tuple[RequestContext, FakeClient]:
        raw = body if isinstance(body, bytes) else orjson.dumps(body)
        client = FakeClient(raw, AUTH if headers is None else headers)
        ctx = self.context(client)
        await self.pipeline(ctx)
        return ctx, client

    def assert_released(self) -> None:
        assert all(state.in_flight == 0 for state in self.router.states.values())


def chat(stream: bool = False, **extra: object) -> dict[str, object]:
    return {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": stream, **extra}


def sse(*events: bytes) -> list[bytes]:
    return [b"data: " + e + b"\n\n" for e in events]


CHUNK = orjson.dumps(
    {"object": "chat.completion.chunk", "model": "up", "choices": [{"delta": {"content": "x"}}]}
)
USAGE_CHUNK = orjson.dumps({"object": "chat.completion.chunk", "model": "up", "choices": [], "usage": USAGE})


# --- a complete reply ---------------------------------------------------------------------------


async def test_complete_reply_learns_usage_and_names_the_public_model() -> None:
    reply = FakeReply(200, orjson.dumps({"model": "up", "usage": USAGE, "choices": []}))
    h = Harness(FakeBackend("a", reply), upstream_name="up")
    _, client = await h.run(chat())
    assert client.status == 200 and orjson.loads(client.text)["model"] == "m"
    (row,) = h.sink.rows
    assert (row.status, row.total_tokens, row.backend, row.client_request_id) == (200, 6, "a", "client-7")
    assert row.request_id == "req_1"
    assert reply.closed == 1 and client.guards_entered == client.guards_exited == 1
    h.assert_released()


# --- a stream that ends -------------------------------------------------------------------------


async def test_stream_strips_usage_the_client_did_not_ask_for_and_bills_it() -> None:
    reply = FakeReply(200, chunks=[*sse(CHUNK, CHUNK, USAGE_CHUNK), b"data: [DONE]\n\n"])
    h = Harness(FakeBackend("a", reply), upstream_name="up")
    _, client = await h.run(chat(stream=True))
    assert b'"usage"' not in client.text and b'"model":"m"' in client.text and client.ended == 1
    (row,) = h.sink.rows
    assert (row.status, row.completion_tokens, row.streamed) == (200, 2, True)
    assert reply.closed == 1
    h.assert_released()


@pytest.mark.parametrize(
    "ending",
    [b"data:[DONE]\n\n", b"data: [DONE]\r\n\r\n", b"data:[DONE]\r\r", b"data: [DONE]\n"],
    ids=["no-space", "crlf", "cr", "unterminated"],
)
async def test_every_legal_done_ends_the_stream_cleanly(ending: bytes) -> None:
    body = b"data:" + CHUNK + b"\r\n\r\n" + ending
    # split the bytes everywhere, including between \r and \n
    chunks = [body[i : i + 3] for i in range(0, len(body), 3)]
    h = Harness(FakeBackend("a", FakeReply(200, chunks=chunks)))
    _, client = await h.run(chat(stream=True))
    assert b'"error"' not in client.text
    (row,) = h.sink.rows
    assert row.status == 200 and row.error_code is None
    h.assert_released()


# --- upstream errors, before and after the first byte --------------------------------------------


async def test_unreachable_backend_fails_over_before_anything_is_sent() -> None:
    good = FakeBackend("b", FakeReply(200, orjson.dumps({"usage": USAGE})))
    h = Harness(FakeBackend("a", UpstreamUnavailable()), good)
    h.router.choose("m")  # make "a" first in turn order regardless of the counter
    _, client = await h.run(chat())
    assert client.status == 200
    assert len(h.sink.rows) == 1 and h.sink.rows[0].backend in ("a", "b")
    h.assert_released()


@pytest.mark.parametrize(
    "bad", [FakeReply(200, b"<html>oops"), FakeReply(500, b"{}"), FakeReply(200, chunks=[b"garbage\n\n"])]
)
async def test_garbage_or_5xx_marks_the_backend_down_and_fails_over(bad: FakeReply) -> None:
    stream = bool(bad._chunks)

    def good() -> FakeReply:
        return FakeReply(200, orjson.dumps({"usage": USAGE}), chunks=[*sse(CHUNK), b"data: [DONE]\n\n"])

    a, b = FakeBackend("a", bad), FakeBackend("b", good(), good())
    h = Harness(a, b)
    for _ in range(2):  # whichever is picked first, the request succeeds on "b"
        _, client = await h.run(chat(stream=stream))
        assert client.status == 200
    assert not h.router.states["a"].healthy and h.router.states["b"].healthy
    assert all(row.status == 200 for row in h.sink.rows) and len(h.sink.rows) == 2
    assert (
        "a",
        "bad_stream" if stream else ("bad_json" if bad.status == 200 else "http_500"),
    ) in h.telemetry.failures
    assert bad.closed >= 1
    h.assert_released()


async def test_stream_cut_after_the_first_byte_ends_with_an_error_event() -> None:
    reply = FakeReply(200, chunks=sse(CHUNK, CHUNK), fail_after=1)
    h = Harness(FakeBackend("a", reply), FakeBackend("b", FakeReply(200)))
    h.router.states["b"].down_since = 0.0  # only "a" is healthy: no failover target
    with pytest.raises(UpstreamError):
        await h.run(chat(stream=True))
    (row,) = h.sink.rows
    assert row.status == 502
    assert not h.router.states["a"].healthy
    assert reply.closed == 1
    h.assert_released()


async def test_truncated_stream_after_the_first_byte_is_a_502_row_and_an_error_event() -> None:
    reply = FakeReply(200, chunks=sse(CHUNK))
    h = Harness(FakeBackend("a", reply))
    client = FakeClient(orjson.dumps(chat(stream=True)), AUTH)
    with pytest.raises(UpstreamError):
        await h.pipeline(h.context(client))
    assert client.text.endswith(b"\n\n") and b'"error"' in client.sent[-1] and client.ended == 1
    (row,) = h.sink.rows
    assert (row.status, row.error_code) == (502, "upstream_error")
    h.assert_released()


async def test_engine_4xx_keeps_its_message_without_addresses_or_paths() -> None:
    body = orjson.dumps(
        {
            "object": "error",
            "message": "This model's maximum context length is 4096 tokens; /srv/models/x.gguf at 10.0.0.5:8000",
            "code": 400,
        }
    )
    h = Harness(FakeBackend("a", FakeReply(400, body)))
    with pytest.raises(UpstreamRejected) as info:
        await h.run(chat())
    assert info.value.status == 400 and "maximum context length is 4096 tokens" in info.value.message
    assert "/srv" not in info.value.message and "10.0.0.5" not in info.value.message
    assert h.router.states["a"].healthy  # the partner's mistake, not the backend's
    assert h.sink.rows[0].status == 400
    h.assert_released()


async def test_engine_429_stays_a_429_with_retry_after() -> None:
    h = Harness(FakeBackend("a", FakeReply(429, b'{"detail": "busy"}', headers={"Retry-After": "3"})))
    with pytest.raises(RateLimited) as info:
        await h.run(chat())
    assert info.value.code == "rate_limit_exceeded" and (b"retry-after", b"3") in info.value.headers
    assert h.router.states["a"].healthy
    assert h.sink.rows[0].status == 429
    h.assert_released()


# --- refused before any backend -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "headers", "error"),
    [
        (chat(), {}, AuthenticationFailed),
        (b'{"model":"m","model":"cheap","messages":[{"role":"user"}]}', None, InvalidRequest),
        (b'{"model":"m","\\u006dodel":"x","messages":[{"role":"user"}]}', None, InvalidRequest),
        ({**chat(), "model": "m\u0000"}, None, InvalidRequest),
        ({**chat(), "model": "x" * 300}, None, InvalidRequest),
        ({**chat(), "model": "nope"}, None, ModelNotFound),
    ],
    ids=["no-key", "duplicate-model", "escaped-duplicate", "nul", "too-long", "unknown"],
)
async def test_refusals_call_no_backend(
    body: dict[str, object] | bytes, headers: dict[bytes, bytes] | None, error: type[OnshoreError]
) -> None:
    backend = FakeBackend("a", FakeReply(200, b"{}"))
    h = Harness(backend)
    with pytest.raises(error):
        await h.run(body, headers)
    assert backend.calls == []
    if error is AuthenticationFailed:
        assert h.sink.rows == [] and h.telemetry.refused == [("chat.completions", 401, "invalid_api_key")]
    else:
        (row,) = h.sink.rows
        assert row.model is None or len(row.model) <= 256


async def test_a_key_limited_to_one_model_is_refused_another() -> None:
    h = Harness(FakeBackend("a", FakeReply(200, b"{}")), models=("other",))
    with pytest.raises(PermissionDenied):
        await h.run(chat())


# --- the client leaves, the task is cancelled ------------------------------------------------------


async def test_client_leaving_before_the_answer_frees_the_backend() -> None:
    reply = FakeReply(200, b"{}", hang_after=0)
    h = Harness(FakeBackend("a", reply))
    client = FakeClient(orjson.dumps(chat()), AUTH)
    task = asyncio.ensure_future(h.pipeline(h.context(client)))
    await asyncio.sleep(0.01)
    assert h.router.states["a"].in_flight == 1
    client.leave()
    with pytest.raises(ClientClosed):
        await task
    (row,) = h.sink.rows
    assert (row.status, row.error_code) == (499, "client_closed")
    assert reply.closed == 1
    h.assert_released()


async def test_client_leaving_mid_stream_still_pays_for_what_the_engine_reports() -> None:
    reply = FakeReply(200, chunks=[*sse(CHUNK, CHUNK, USAGE_CHUNK), b"data: [DONE]\n\n"], hang_after=2)
    h = Harness(FakeBackend("a", reply))
    client = FakeClient(orjson.dumps(chat(stream=True)), AUTH)
    task = asyncio.ensure_future(h.pipeline(h.context(client)))
    await asyncio.sleep(0.01)
    client.leave()
    with pytest.raises(ClientClosed):
        await task
    (row,) = h.sink.rows
    assert (row.status, row.total_tokens) == (499, 6)
    assert reply.closed == 1
    h.assert_released()


async def test_client_leaving_after_done_while_the_engine_ends_its_stream_got_a_whole_answer() -> None:
    """The openai SDK closes the response at [DONE]; the engine's stream may not have ended yet."""
    # It hangs after [DONE], before the last (empty) read that ends the engine's stream.
    reply = FakeReply(200, chunks=[*sse(CHUNK, CHUNK, USAGE_CHUNK), b"data: [DONE]\n\n", b""], hang_after=4)
    h = Harness(FakeBackend("a", reply))
    client = FakeClient(orjson.dumps(chat(stream=True)), AUTH)
    task = asyncio.ensure_future(h.pipeline(h.context(client)))
    await asyncio.sleep(0.01)
    client.leave()
    await task
    (row,) = h.sink.rows
    assert (row.status, row.error_code, row.total_tokens) == (200, None, 6)
    assert reply.closed == 1
    h.assert_released()


async def test_client_leaving_mid_stream_without_usage_is_estimated_not_free() -> None:
    reply = FakeReply(200, chunks=sse(CHUNK, CHUNK, CHUNK), hang_after=2)
    h = Harness(FakeBackend("a", reply))
    client = FakeClient(orjson.dumps(chat(stream=True)), AUTH)
    task = asyncio.ensure_future(h.pipeline(h.context(client)))
    await asyncio.sleep(0.01)
    client.leave()
    with pytest.raises(ClientClosed):
        await task
    (row,) = h.sink.rows
    assert row.status == 499 and row.error_code == "client_closed_usage_estimated"
    assert row.completion_tokens >= 1 and row.prompt_tokens >= 1
    h.assert_released()


async def test_server_cancellation_releases_everything_and_writes_one_row() -> None:
    reply = FakeReply(200, chunks=sse(CHUNK, CHUNK), hang_after=1)
    h = Harness(FakeBackend("a", reply))
    client = FakeClient(orjson.dumps(chat(stream=True)), AUTH)
    task = asyncio.ensure_future(h.pipeline(h.context(client)))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    (row,) = h.sink.rows
    assert (row.status, row.error_code) == (503, "cancelled")
    assert reply.closed == 1 and client.guards_exited == 1
    h.assert_released()


def test_telemetry_never_labels_unrouted_models() -> None:
    h = Harness(FakeBackend("a", FakeReply(200, b"{}")))
    asyncio.run(_unknown(h))
    assert h.telemetry.finished[0].model == ""


async def _unknown(h: Harness) -> None:
    with pytest.raises(ModelNotFound):
        await h.run({**chat(), "model": "typo"})
