"""The SSE framer (per the event-stream spec) and the response transformers on streams."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from hypothesis import given
from hypothesis import strategies as st

from onshore.domain.catalog import Endpoint, ModelRoute
from onshore.errors import UpstreamError, error_event
from onshore.gateway.context import RequestContext
from onshore.gateway.request_body import parse_body
from onshore.gateway.sse import SseFramer, first_data_is_json, usage_counts
from onshore.gateway.transforms import PublicModelName, Usage
from tests.support.fakes import FakeClient


def _event(payload: object) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


CHUNK = _event({"id": "c", "model": "up", "choices": [{"index": 0, "delta": {"content": "hi"}}]})
USAGE = _event(
    {
        "id": "c",
        "model": "up",
        "choices": [],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }
)
DONE = b"data: [DONE]\n\n"
STREAM = CHUNK + CHUNK + USAGE + DONE


def _ctx(include_usage: bool = False) -> RequestContext:
    body = {"model": "m", "messages": [{"role": "user"}], "stream": True}
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    ctx = RequestContext("r", Endpoint.CHAT, FakeClient(b""), 0.0, datetime.now(UTC))
    ctx.body = parse_body(orjson.dumps(body), Endpoint.CHAT)
    ctx.stream, ctx.model, ctx.route = True, "m", ModelRoute("m", "up", "a")
    return ctx


def _run(framer: SseFramer, usage: Usage, pieces: list[bytes]) -> bytes:
    blocks = [framer.feed(p) for p in pieces] + [framer.flush()]
    return b"".join(usage.on_events(b) for b in blocks if b)


def test_usage_is_learned_and_stripped() -> None:
    ctx = _ctx()
    framer, usage = SseFramer(), Usage(ctx, strip=True)
    assert _run(framer, usage, [STREAM]) == CHUNK + CHUNK + DONE
    assert (ctx.prompt_tokens, ctx.completion_tokens, ctx.total_tokens) == (3, 2, 5)
    assert framer.saw_done


def test_usage_kept_when_asked() -> None:
    ctx = _ctx(include_usage=True)
    assert _run(SseFramer(), Usage(ctx, strip=False), [STREAM]) == STREAM


def test_model_alias_is_rewritten() -> None:
    out = PublicModelName("up", "public").on_events(STREAM)
    assert b'"model":"up"' not in out and out.count(b'"model":"public"') == 3


_ENDINGS = st.sampled_from([b"\n", b"\r\n", b"\r"])


@given(st.lists(st.integers(min_value=1, max_value=400), max_size=12), _ENDINGS, st.booleans())
def test_any_split_and_any_line_end_gives_the_same_events(cuts: list[int], eol: bytes, spaced: bool) -> None:
    stream = STREAM.replace(b"\n", eol)
    if not spaced:
        stream = stream.replace(b"data: ", b"data:")
    points = sorted({c for c in cuts if c < len(stream)})
    pieces = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    ctx = _ctx()
    framer = SseFramer()
    out = _run(framer, Usage(ctx, strip=True), pieces)
    expected = CHUNK + CHUNK + DONE
    assert out == (expected if spaced else expected.replace(b"data: ", b"data:"))
    assert ctx.total_tokens == 5 and framer.saw_done


def test_done_without_a_space_is_done() -> None:
    framer = SseFramer()
    framer.feed(CHUNK + b"data:[DONE]\n\n")
    assert framer.saw_done


def test_the_word_done_inside_content_is_not_done() -> None:
    framer = SseFramer()
    framer.feed(_event({"choices": [{"delta": {"content": "data: [DONE]"}}]}))
    assert not framer.saw_done


def test_missing_done_is_noticed() -> None:
    framer = SseFramer()
    framer.feed(CHUNK)
    assert not framer.saw_done


def test_garbage_first_event_is_recognised() -> None:
    assert first_data_is_json(CHUNK) is True
    assert first_data_is_json(b"data: <html>\n\n") is False
    assert first_data_is_json(b": keep-alive\n\n") is None


def test_error_event_is_openai_shaped() -> None:
    payload = orjson.loads(error_event(UpstreamError("boom"))[6:])
    assert payload == {
        "error": {"message": "boom", "type": "upstream_error", "param": None, "code": "upstream_error"}
    }


def test_usage_counts_ignores_garbage() -> None:
    assert usage_counts({"prompt_tokens": "3", "completion_tokens": -1}) == (0, 0, 0, 0)
    assert usage_counts({"prompt_tokens": 3, "completion_tokens": 4}) == (3, 4, 7, 0)
    cached = {"prompt_tokens": 30, "completion_tokens": 4, "prompt_tokens_details": {"cached_tokens": 20}}
    assert usage_counts(cached) == (30, 4, 34, 20)
    assert usage_counts({**cached, "prompt_tokens_details": {"cached_tokens": 99}})[3] == 30
