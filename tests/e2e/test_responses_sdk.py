"""The Responses API as the official openai SDK uses it, against a real `onshore serve` translating
to chat completions for an engine that only serves those (the scripted engine)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.support.scripted_engine import ScriptedEngine
from tests.support.services import Gateway, make_gateway, remote_backend

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture(scope="module")
def engine() -> Iterator[ScriptedEngine]:
    eng = ScriptedEngine().start()
    yield eng
    eng.stop()


@pytest.fixture(scope="module")
def gateway(engine: ScriptedEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp: Path = tmp_path_factory.mktemp("responses")
    gw = make_gateway(tmp, [remote_backend("engine", engine.url, "plain", "echo", "tool")])
    gw.start()
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def client(gateway: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.v1, api_key=gateway.create_key("acme")[1], max_retries=0)


@pytest.fixture(scope="module")
def other(gateway: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.v1, api_key=gateway.create_key("globex")[1], max_retries=0)


def _last_chat(engine: ScriptedEngine) -> dict[str, object]:
    body = json.loads(engine.bodies[-1])
    assert isinstance(body, dict)
    return body


def test_create_plain(client: openai.OpenAI, engine: ScriptedEngine) -> None:
    response = client.responses.create(
        model="echo", instructions="Be brief.", input="hello there", max_output_tokens=50, temperature=0.2
    )
    assert response.object == "response"
    assert response.id.startswith("resp_")
    assert response.status == "completed"
    assert response.output_text == "hello there"
    assert response.model == "echo"
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.total_tokens) == (
        5,
        3,
        8,
    )
    chat = _last_chat(engine)
    assert chat["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello there"},
    ]
    assert (chat["max_tokens"], chat["temperature"]) == (50, 0.2)


def test_multi_turn_input_list(client: openai.OpenAI, engine: ScriptedEngine) -> None:
    response = client.responses.create(
        model="echo",
        input=[
            {"role": "developer", "content": "Answer in Korean."},
            {"role": "user", "content": [{"type": "input_text", "text": "first"}]},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "second"},
        ],
    )
    assert response.output_text == "second"
    assert [m["role"] for m in _last_chat(engine)["messages"]] == ["system", "user", "assistant", "user"]  # type: ignore[union-attr]


def test_stream_with_the_sdk_event_parser(client: openai.OpenAI) -> None:
    with client.responses.stream(model="echo", input="streamed words here") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    for kind in (
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
    ):
        assert kind in kinds
    assert final.output_text == "streamed words here"
    assert final.usage is not None and final.usage.output_tokens > 0


def test_create_stream_true(client: openai.OpenAI) -> None:
    events = list(client.responses.create(model="plain", input="hi", stream=True))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "t0 t1 t2 "
    completed = events[-1]
    assert completed.type == "response.completed"
    assert completed.response.usage is not None and completed.response.usage.total_tokens == 8
    assert [e.sequence_number for e in events] == list(range(len(events)))


@pytest.mark.parametrize("stream", [False, True])
def test_function_call_round_trip(client: openai.OpenAI, engine: ScriptedEngine, stream: bool) -> None:
    if stream:
        with client.responses.stream(model="tool", input="Weather in Seoul?", tools=[WEATHER]) as events:
            kinds = [event.type for event in events]
            first = events.get_final_response()
        assert "response.function_call_arguments.delta" in kinds
        assert "response.function_call_arguments.done" in kinds
    else:
        first = client.responses.create(model="tool", input="Weather in Seoul?", tools=[WEATHER])
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1
    call = calls[0]
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Seoul"}
    tools = _last_chat(engine)["tools"]
    assert tools == [{"type": "function", "function": {k: v for k, v in WEATHER.items() if k != "type"}}]

    second = client.responses.create(
        model="tool",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "25C"}],
        tools=[WEATHER],
    )
    assert second.output_text == "sunny: 25C"
    messages = _last_chat(engine)["messages"]
    assert messages == [
        {"role": "user", "content": "Weather in Seoul?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call.call_id,
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": call.arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call.call_id, "content": "25C"},
    ]
    assert second.previous_response_id == first.id


def test_retrieve_input_items_and_delete(client: openai.OpenAI, other: openai.OpenAI) -> None:
    created = client.responses.create(model="echo", input="keep me")
    fetched = client.responses.retrieve(created.id)
    assert fetched.id == created.id
    assert fetched.output_text == "keep me"
    items = client.responses.input_items.list(created.id)
    assert [item.type for item in items.data] == ["message"]
    assert items.data[0].content[0].text == "keep me"  # type: ignore[union-attr]

    # Another organisation's key: as if the id did not exist (404, never 403).
    with pytest.raises(openai.NotFoundError):
        other.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.input_items.list(created.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.create(model="echo", input="x", previous_response_id=created.id)

    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(created.id)


def test_store_false_keeps_nothing(client: openai.OpenAI) -> None:
    created = client.responses.create(model="echo", input="forget me", store=False)
    assert created.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)


def test_unsupported_tool_is_a_clear_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="echo", input="x", tools=[{"type": "web_search"}])
    assert "function tools" in caught.value.message
