"""The embeddings backend on the real all-MiniLM-L6-v2 weights, driven through the Backend protocol."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tokenizers import Tokenizer

from onshore.backends.embeddings import EmbeddingsBackend
from onshore.backends.embeddings.runtime import model_dir
from onshore.config.settings import EmbeddingsBackendSettings
from onshore.domain.catalog import Endpoint
from onshore.errors import BackendUnavailable, ConfigError, InvalidRequest
from onshore.ports import BackendCall

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def graph_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("graphs")


def settings(cache: Path, **extra: Any) -> EmbeddingsBackendSettings:
    return EmbeddingsBackendSettings.model_validate(
        {
            "name": "local-embed",
            "kind": "embeddings",
            "models": [{"name": "minilm"}],
            "cache_dir": cache,
            **extra,
        }
    )


@pytest.fixture
async def backend(graph_cache: Path, tmp_path: Path) -> Any:
    embedder = EmbeddingsBackend(settings(graph_cache), tmp_path)
    await embedder.start()
    yield embedder
    await embedder.aclose()


def call(inputs: Any, **extra: Any) -> BackendCall:
    payload = {"model": "upstream-minilm", "input": inputs, **extra}
    return BackendCall(
        endpoint=Endpoint.EMBEDDINGS,
        body=json.dumps(payload).encode(),
        payload=payload,
        stream=False,
        request_id="r1",
    )


async def embed(backend: EmbeddingsBackend, inputs: Any, **extra: Any) -> dict[str, Any]:
    reply = await backend.send(call(inputs, **extra))
    assert reply.status == 200
    body: dict[str, Any] = json.loads(await reply.read())
    return body


def built_graphs(cache: Path) -> dict[Path, int]:
    return {path: path.stat().st_mtime_ns for path in cache.glob("*.onnx")}


def vectors(body: dict[str, Any]) -> np.ndarray:
    return np.array([item["embedding"] for item in body["data"]], dtype=np.float32)


async def test_one_input_gives_a_unit_vector_of_384(backend: EmbeddingsBackend) -> None:
    body = await embed(backend, "The quick brown fox jumps over the lazy dog.")
    assert body["object"] == "list"
    assert body["model"] == "upstream-minilm"
    assert len(body["data"]) == 1
    vector = vectors(body)[0]
    assert vector.shape == (384,)
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-4
    # "the quick brown fox jumps over the lazy dog ." is 10 word pieces.
    assert body["usage"] == {"prompt_tokens": 10, "total_tokens": 10}


async def test_same_input_same_vector(backend: EmbeddingsBackend) -> None:
    first = vectors(await embed(backend, "Seoul is the capital of Korea."))
    second = vectors(await embed(backend, "Seoul is the capital of Korea."))
    assert np.array_equal(first, second)
    in_batch = vectors(
        await embed(backend, ["Seoul is the capital of Korea.", "A much longer sentence " * 8])
    )
    assert np.allclose(first[0], in_batch[0], atol=1e-5)


async def test_same_topic_is_closer_than_unrelated(backend: EmbeddingsBackend) -> None:
    guitar, music, stocks = vectors(
        await embed(
            backend,
            [
                "A man is playing a guitar.",
                "Someone plays a musical instrument.",
                "Stock markets fell sharply today.",
            ],
        )
    )
    assert float(guitar @ music) > float(guitar @ stocks) + 0.2


async def test_a_batch_of_100_keeps_order_and_counts_every_token(backend: EmbeddingsBackend) -> None:
    texts = [f"Sentence number {i} talks about topic {i % 7}." for i in range(100)]
    body = await embed(backend, texts)
    assert [item["index"] for item in body["data"]] == list(range(100))
    batch = vectors(body)
    for i in (0, 37, 99):
        alone = vectors(await embed(backend, texts[i]))[0]
        assert np.allclose(batch[i], alone, atol=1e-5)
    singles = [await embed(backend, text) for text in texts[:5]]
    per_text = sum(single["usage"]["prompt_tokens"] for single in singles)
    assert per_text == (await embed(backend, texts[:5]))["usage"]["prompt_tokens"]


async def test_base64_decodes_to_the_float_vector(backend: EmbeddingsBackend) -> None:
    as_float = vectors(await embed(backend, ["first", "second"]))
    as_b64 = await embed(backend, ["first", "second"], encoding_format="base64")
    for index, item in enumerate(as_b64["data"]):
        decoded = np.frombuffer(base64.b64decode(item["embedding"]), dtype="<f4")
        assert np.array_equal(decoded, as_float[index])


async def test_token_ids_embed_like_their_text_when_enabled(graph_cache: Path, tmp_path: Path) -> None:
    embedder = EmbeddingsBackend(settings(graph_cache, token_ids="model"), tmp_path)
    await embedder.start()
    try:
        tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
        tokenizer.no_padding()  # the shipped tokenizer.json pads to 128
        ids = tokenizer.encode("hello world", add_special_tokens=False).ids
        from_ids = await embed(embedder, [ids])
        from_text = vectors(await embed(embedder, "hello world"))[0]
        assert np.allclose(vectors(from_ids)[0], from_text, atol=1e-6)
        assert from_ids["usage"]["prompt_tokens"] == len(ids)
    finally:
        await embedder.aclose()


async def test_token_ids_are_refused_by_default(backend: EmbeddingsBackend) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await backend.send(call([[15339, 1917]]))  # tiktoken cl100k's "hello world"
    assert caught.value.code == "token_ids_not_supported"
    assert "check_embedding_ctx_length=False" in caught.value.message


async def test_split_long_input_pools_its_windows(graph_cache: Path, tmp_path: Path) -> None:
    embedder = EmbeddingsBackend(settings(graph_cache, long_input="split"), tmp_path)
    await embedder.start()
    try:
        first = "The violin is a string instrument played with a bow in orchestras. " * 20
        second = "Interest rates and bond yields moved the stock market sharply today. " * 20
        long = vectors(await embed(embedder, first + second))[0]
        assert abs(float(np.linalg.norm(long)) - 1.0) < 1e-4
        music, money = vectors(await embed(embedder, [first[:300], second[:300]]))
        # Both halves are represented, unlike a truncated vector, which would see only the first.
        assert float(long @ music) > 0.5
        assert float(long @ money) > 0.5
        body = await embed(embedder, ["short one", first + second])
        assert len(body["data"]) == 2
        tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.no_truncation()  # the shipped tokenizer.json truncates to 128
        pieces = len(tokenizer.encode(first + second, add_special_tokens=False).ids)
        assert body["usage"]["prompt_tokens"] == pieces + 2  # "short one": 2 pieces; no overlap counted
    finally:
        await embedder.aclose()


@pytest.mark.parametrize("inputs", ["", ["fine", ""], [], "   "])
async def test_empty_inputs_are_400s(backend: EmbeddingsBackend, inputs: Any) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await backend.send(call(inputs))
    assert caught.value.status == 400
    assert caught.value.param == "input"


async def test_over_long_input_is_a_400_naming_the_limit(backend: EmbeddingsBackend) -> None:
    await embed(backend, "word " * 254)  # exactly the window: accepted
    with pytest.raises(InvalidRequest) as caught:
        await backend.send(call(["short", "word " * 255]))
    assert caught.value.param == "input"
    assert caught.value.code == "context_length_exceeded"
    assert "input[1]" in caught.value.message
    assert "254" in caught.value.message


async def test_other_dimensions_are_refused(backend: EmbeddingsBackend) -> None:
    assert len(vectors(await embed(backend, "x", dimensions=384))[0]) == 384
    with pytest.raises(InvalidRequest) as caught:
        await backend.send(call("x", dimensions=256))
    assert caught.value.param == "dimensions"


async def test_concurrent_requests_are_batched_and_each_gets_its_own(backend: EmbeddingsBackend) -> None:
    texts = [f"request {i} about {'cats' if i % 2 else 'finance'}" for i in range(24)]
    expected = [vectors(await embed(backend, text))[0] for text in texts]
    bodies = await asyncio.gather(*(embed(backend, text) for text in texts))
    for body, want in zip(bodies, expected, strict=True):
        assert np.allclose(vectors(body)[0], want, atol=1e-5)


async def test_an_invalid_request_does_not_spoil_its_batch(backend: EmbeddingsBackend) -> None:
    good, bad = await asyncio.gather(
        embed(backend, "fine"), backend.send(call("word " * 300)), return_exceptions=True
    )
    assert isinstance(good, dict)
    assert isinstance(bad, InvalidRequest)


async def test_chat_is_refused(backend: EmbeddingsBackend) -> None:
    payload = {"model": "m", "messages": []}
    with pytest.raises(InvalidRequest):
        await backend.send(BackendCall(Endpoint.CHAT, b"{}", payload, False, "r"))


async def test_the_graph_is_built_once_per_content(graph_cache: Path, tmp_path: Path) -> None:
    first = EmbeddingsBackend(settings(graph_cache), tmp_path)
    await first.start()
    await first.aclose()
    built = built_graphs(graph_cache)
    second = EmbeddingsBackend(settings(graph_cache), tmp_path)
    await second.start()
    assert await second.check_health()
    await second.aclose()
    assert built_graphs(graph_cache) == built


async def test_default_cache_is_under_the_data_dir(tmp_path: Path) -> None:
    embedder = EmbeddingsBackend(
        EmbeddingsBackendSettings(name="e", kind="embeddings", models=[{"name": "m"}], quantize="int8"),  # type: ignore[list-item]
        tmp_path,
    )
    await embedder.start()
    try:
        assert len(list((tmp_path / "models").glob("*-int8.onnx"))) == 1
        assert len(vectors(await embed(embedder, "int8 works"))[0]) == 384
    finally:
        await embedder.aclose()


async def test_an_unusable_cache_fails_start_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    embedder = EmbeddingsBackend(settings(blocker), tmp_path)
    with pytest.raises(ConfigError) as caught:
        await embedder.start()
    assert str(blocker) in caught.value.message
    assert not await embedder.check_health()


async def test_lazy_backend_that_cannot_load_answers_503(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    embedder = EmbeddingsBackend(settings(blocker, lazy=True), tmp_path)
    await embedder.start()
    for _ in range(2):
        with pytest.raises(BackendUnavailable) as caught:
            await embedder.send(call("hello"))
        assert caught.value.status == 503
    await embedder.aclose()


async def test_a_corrupt_graph_fails_start_naming_it(graph_cache: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    for built in built_graphs(graph_cache):
        (cache / built.name).write_bytes(b"not onnx")
    embedder = EmbeddingsBackend(settings(cache), tmp_path)
    with pytest.raises(ConfigError) as caught:
        await embedder.start()
    assert str(cache) in caught.value.message
