"""The Responses API translators on their own (gateway/responses_request.py, responses_reply.py),
the pass-through's reader (responses_native.py), the texts the personal-data policy scans in a
Responses body, and the refusal of a model whose backends disagree on `responses`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from onshore.config.settings import Settings
from onshore.domain.catalog import Endpoint
from onshore.errors import InvalidRequest
from onshore.gateway.batch_channel import BatchChannel
from onshore.gateway.context import RequestContext
from onshore.gateway.personal_data import text_slots
from onshore.gateway.responses_native import NativeResponses, responses_usage
from onshore.gateway.responses_reply import ResponsesExchange, ResponsesReply
from onshore.gateway.responses_request import input_items, to_chat
from onshore.gateway.sse import event_json


def _ctx() -> RequestContext:
    ctx = RequestContext("req", Endpoint.CHAT, BatchChannel(b"{}"), 0.0, datetime(2025, 1, 1, tzinfo=UTC))
    ctx.model = "m"
    return ctx


def _chat(payload: dict[str, Any], stream: bool = False) -> dict[str, Any]:
    return to_chat(payload, input_items(payload), stream=stream)


# --- request: Responses -> chat ------------------------------------------------------------------


def test_instructions_and_a_string_input() -> None:
    chat = _chat({"model": "m", "instructions": "Be brief.", "input": "hi", "max_output_tokens": 9})
    assert chat["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    assert chat["max_tokens"] == 9
    assert "stream" not in chat


def test_items_roles_parts_and_a_tool_round_trip() -> None:
    payload = {
        "model": "m",
        "input": [
            {"role": "developer", "content": "Korean only."},
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "look"},
                    {"type": "input_image", "image_url": "https://x/i.png", "detail": "low"},
                ],
            },
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": '{"a":1}'},
            {"type": "function_call", "call_id": "c2", "name": "g", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "one"},
            {"type": "reasoning", "summary": []},
        ],
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
        "tool_choice": {"type": "function", "name": "f"},
        "text": {"format": {"type": "json_schema", "name": "s", "schema": {"type": "object"}}},
    }
    chat = _chat(payload, stream=True)
    system, user, calls, tool = chat["messages"]
    assert system == {"role": "system", "content": "Korean only."}
    assert user["content"] == [
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": "https://x/i.png", "detail": "low"}},
    ]
    assert [c["id"] for c in calls["tool_calls"]] == ["c1", "c2"]  # consecutive calls merge
    assert tool == {"role": "tool", "tool_call_id": "c1", "content": "one"}
    assert chat["tools"][0]["function"]["name"] == "f"
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "f"}}
    assert chat["response_format"]["type"] == "json_schema"
    assert chat["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize(
    "payload",
    [
        {"model": "m", "input": 3},
        {"model": "m", "input": "x", "tools": [{"type": "web_search"}]},
        {"model": "m", "input": [{"type": "file_search_call"}]},
        {"model": "m", "input": "x", "max_output_tokens": 0},
        {"model": "m", "input": "x", "instructions": 5},
    ],
)
def test_what_cannot_be_translated_is_a_400(payload: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        _chat(payload)


# --- reply: chat -> Responses --------------------------------------------------------------------


def _exchange() -> ResponsesExchange:
    return ResponsesExchange("resp_1", 1, {"model": "m", "input": "x", "instructions": "i"}, [], True)


def test_a_chat_completion_becomes_a_response() -> None:
    ctx, state = _ctx(), _exchange()
    ctx.set_usage(5, 3)
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    payload = {
        "choices": [
            {
                "message": {"role": "assistant", "content": "hello", "tool_calls": [call]},
                "finish_reason": "stop",
            }
        ]
    }
    assert ResponsesReply(ctx, state).on_body(payload)
    assert payload["object"] == "response" and payload["id"] == "resp_1" and payload["status"] == "completed"
    message, function = payload["output"]
    assert message["content"][0]["text"] == "hello"
    assert (function["type"], function["call_id"], function["name"]) == ("function_call", "call_1", "f")
    assert payload["usage"]["input_tokens"] == 5 and payload["usage"]["total_tokens"] == 8
    assert payload["instructions"] == "i"
    assert state.final == payload


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    body = {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + orjson.dumps(body) + b"\n\n"


def test_a_chat_stream_becomes_the_event_sequence() -> None:
    ctx, state = _ctx(), _exchange()
    reply = ResponsesReply(ctx, state)
    out = reply.on_events(_chunk({"role": "assistant", "content": "Hel"}) + _chunk({"content": "lo"}))
    ctx.set_usage(4, 2)
    out += reply.on_events(_chunk({}, "length") + b"data: [DONE]\n\n")
    events = [event_json(e) for e in out.split(b"\n\n") if e]
    kinds = [e["type"] for e in events if e]
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.incomplete",  # the token limit cut it
    ]
    assert [e["sequence_number"] for e in events if e] == list(range(len(kinds)))
    last = events[-1]
    assert last is not None
    assert last["response"]["output"][0]["content"][0]["text"] == "Hello"
    assert last["response"]["usage"]["output_tokens"] == 2
    assert b"[DONE]" not in out


# --- the native pass-through ---------------------------------------------------------------------


def test_native_reads_usage_and_the_final_response_and_forwards_bytes_unchanged() -> None:
    ctx = _ctx()
    state = ResponsesExchange("", 1, {}, [], True, native=True)
    native = NativeResponses(ctx, state)
    usage = {
        "input_tokens": 7,
        "output_tokens": 4,
        "total_tokens": 11,
        "input_tokens_details": {"cached_tokens": 2},
    }
    delta = b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"x"}\n\n'
    assert native.on_events(delta) == delta and not state.ended
    done = orjson.dumps(
        {"type": "response.completed", "response": {"id": "r1", "status": "completed", "usage": usage}}
    )
    block = b"event: response.completed\ndata: " + done + b"\n\n"
    assert native.on_events(block) == block
    assert state.ended and state.final is not None and state.final["id"] == "r1"
    assert (ctx.prompt_tokens, ctx.completion_tokens, ctx.total_tokens, ctx.cached_tokens) == (7, 4, 11, 2)
    body = {"id": "r2", "status": "completed", "usage": {"input_tokens": 1, "output_tokens": 2}}
    assert native.on_body(body) is False  # the engine's bytes go back as they are
    assert ctx.total_tokens == 3
    assert responses_usage(None) is None


def test_the_policy_scans_a_responses_bodys_texts() -> None:
    payload: dict[str, Any] = {
        "instructions": "a",
        "input": [
            {"role": "user", "content": "b"},
            {"role": "user", "content": [{"type": "input_text", "text": "c"}]},
            {"type": "function_call", "call_id": "x", "name": "f", "arguments": "d"},
            {"type": "function_call_output", "call_id": "x", "output": "e"},
        ],
    }
    assert sorted(c[k] for c, k in text_slots(payload, Endpoint.RESPONSES)) == ["a", "b", "c", "d", "e"]
    assert [c[k] for c, k in text_slots({"input": "s"}, Endpoint.RESPONSES)] == ["s"]


def test_a_model_whose_backends_disagree_on_responses_is_refused(tmp_path: Path) -> None:
    backends = [
        {"name": "a", "url": "http://a/v1", "models": [{"name": "m"}], "responses": "native"},
        {"name": "b", "url": "http://b/v1", "models": [{"name": "m"}]},
    ]
    with pytest.raises(ValidationError, match="all its backends must agree"):
        Settings(data_dir=tmp_path, backends=backends)  # type: ignore[arg-type]
    backends[1]["responses"] = "native"
    assert Settings(data_dir=tmp_path, backends=backends).backends[1].responses == "native"  # type: ignore[arg-type, union-attr]
