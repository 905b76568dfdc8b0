"""OpenAI's chat and completions framing, byte for byte where it matters."""

from __future__ import annotations

import json

from onshore.backends.llamacpp.wire import DONE, Renderer
from onshore.domain.catalog import Endpoint
from onshore.errors import OnshoreError, error_event


def event(data: bytes) -> dict[str, object]:
    assert data.startswith(b"data: ")
    assert data.endswith(b"\n\n")
    parsed: dict[str, object] = json.loads(data[6:])
    return parsed


def test_chat_stream_chunks() -> None:
    renderer = Renderer(Endpoint.CHAT, "r1", "m", include_usage=True)
    opening = renderer.opening()
    assert opening is not None
    first = event(opening)
    assert first["id"] == "chatcmpl-r1"
    assert first["object"] == "chat.completion.chunk"
    assert first["usage"] is None
    assert first["choices"] == [
        {"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}
    ]
    assert event(renderer.delta("hi"))["choices"] == [
        {"index": 0, "delta": {"content": "hi"}, "logprobs": None, "finish_reason": None}
    ]
    assert event(renderer.finish("length"))["choices"] == [
        {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "length"}
    ]
    usage = renderer.usage(3, 2)
    assert usage is not None
    assert event(usage)["choices"] == []
    assert event(usage)["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    assert DONE == b"data: [DONE]\n\n"


def test_without_include_usage_chunks_carry_no_usage() -> None:
    renderer = Renderer(Endpoint.CHAT, "r1", "m", include_usage=False)
    assert "usage" not in event(renderer.delta("x"))
    assert renderer.usage(1, 1) is None


def test_completions_stream_and_body() -> None:
    renderer = Renderer(Endpoint.COMPLETIONS, "r2", "m", include_usage=False)
    assert renderer.opening() is None
    chunk = event(renderer.delta("abc"))
    assert chunk["object"] == "text_completion"
    assert chunk["choices"] == [{"index": 0, "text": "abc", "logprobs": None, "finish_reason": None}]
    body = json.loads(renderer.full("abc", "stop", 4, 1))
    assert body["id"] == "cmpl-r2"
    assert body["choices"][0]["text"] == "abc"
    assert body["usage"]["total_tokens"] == 5


def test_chat_body() -> None:
    body = json.loads(Renderer(Endpoint.CHAT, "r3", "m", include_usage=False).full("hey", "stop", 5, 2))
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "hey", "refusal": None}
    assert body["choices"][0]["finish_reason"] == "stop"


def test_error_event_is_openai_shaped() -> None:
    assert event(error_event(OnshoreError("boom"))) == {
        "error": {"message": "boom", "type": "server_error", "param": None, "code": None}
    }
