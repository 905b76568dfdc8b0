"""The gateway as a partner sees it: the unmodified openai SDK, sync and async, streaming and not."""

from __future__ import annotations

import base64
import struct

import openai
import pytest

from tests.support.services import Gateway


@pytest.fixture(scope="module")
def key(gateway: Gateway) -> str:
    return gateway.create_key("acme")[1]


@pytest.fixture(scope="module")
def client(gateway: Gateway, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.v1, api_key=key, max_retries=0)


def test_chat_completion(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="bench-model", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content
    assert reply.model == "bench-model"
    assert reply.usage is not None and reply.usage.completion_tokens == 12
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + 12


def test_alias_is_rewritten_both_ways(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="aliased", messages=[{"role": "user", "content": "hi"}])
    assert reply.model == "aliased"
    chunks = list(
        client.chat.completions.create(
            model="aliased", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    )
    assert {c.model for c in chunks} == {"aliased"}


def test_chat_stream_without_usage(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="bench-model", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    # The gateway asked the engine for usage; the client did not, so it must not see the usage chunk.
    assert all(c.usage is None for c in chunks)
    assert all(c.choices for c in chunks)


def test_chat_stream_with_usage(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="bench-model",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 12
    assert chunks[-1].choices == []


def test_passthrough_fields_reach_the_engine(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="bench-model",
        messages=[{"role": "user", "content": "hi"}],
        seed=7,
        max_tokens=3,
        tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        extra_body={"vendor_extension": {"x": 1}},
    )
    assert reply.usage is not None and reply.usage.completion_tokens == 3
    assert reply.choices[0].finish_reason == "length"


def test_completions(client: openai.OpenAI) -> None:
    reply = client.completions.create(model="bench-model", prompt="Say hi", max_tokens=5)
    assert reply.choices[0].text
    assert reply.usage is not None and reply.usage.completion_tokens == 5
    streamed = list(client.completions.create(model="bench-model", prompt="Say hi", stream=True))
    assert "".join(c.choices[0].text for c in streamed if c.choices)


def test_embeddings_float_and_base64(client: openai.OpenAI, gateway: Gateway, key: str) -> None:
    reply = client.embeddings.create(model="bench-embed", input=["a", "b"])  # SDK asks for base64
    assert len(reply.data) == 2 and len(reply.data[0].embedding) == 64
    plain = client.embeddings.create(model="bench-embed", input="a", encoding_format="float")
    assert plain.data[0].embedding == pytest.approx(reply.data[0].embedding)
    raw = client.with_raw_response.embeddings.create(model="bench-embed", input="a", encoding_format="base64")
    vector = raw.http_response.json()["data"][0]["embedding"]
    decoded = struct.unpack("<64f", base64.b64decode(vector))
    assert list(decoded) == pytest.approx(reply.data[0].embedding)


def test_models_lists_only_what_the_key_may_use(gateway: Gateway) -> None:
    _, limited = gateway.create_key("acme", "--models", "bench-model")
    client = openai.OpenAI(base_url=gateway.v1, api_key=limited, max_retries=0)
    assert [m.id for m in client.models.list()] == ["bench-model"]
    assert client.models.retrieve("bench-model").id == "bench-model"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("bench-embed")
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(model="bench-embed", messages=[{"role": "user", "content": "x"}])


def test_full_key_sees_every_model(client: openai.OpenAI) -> None:
    assert {m.id for m in client.models.list()} == {"bench-model", "aliased", "bench-embed", "dead-model"}


async def test_async_client(gateway: Gateway, key: str) -> None:
    client = openai.AsyncOpenAI(base_url=gateway.v1, api_key=key, max_retries=0)
    reply = await client.chat.completions.create(
        model="bench-model", messages=[{"role": "user", "content": "x"}]
    )
    assert reply.choices[0].message.content
    stream = await client.chat.completions.create(
        model="bench-model", messages=[{"role": "user", "content": "x"}], stream=True
    )
    parts = [c async for c in stream]
    assert parts and parts[-1].choices[0].finish_reason == "stop"
    embedded = await client.embeddings.create(model="bench-embed", input="x")
    assert len(embedded.data[0].embedding) == 64
    await client.close()


def test_every_response_has_a_request_id(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="bench-model", messages=[{"role": "user", "content": "x"}]
    )
    assert raw.headers["x-request-id"].startswith("req_")
