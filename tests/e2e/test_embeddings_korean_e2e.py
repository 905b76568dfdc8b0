"""USE multilingual v3 through the real `onshore serve`, driven by the unmodified openai SDK.

One gateway serves the Korean-capable model (``engine: use-multilingual``) beside MiniLM; the SDK's
default base64 encoding and an explicit float request must give the same unit vectors, a Korean
paraphrase must be closer than an unrelated sentence, and token arrays are refused with the fix named.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import openai
import pytest

from tests.support.services import Gateway, make_gateway

pytestmark = pytest.mark.slow

KOREAN = [
    "서울은 오늘 하루 종일 비가 내리겠습니다.",
    "오늘 서울에는 온종일 비 소식이 있습니다.",
    "신용카드 연체 이자는 매달 청구됩니다.",
]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp: Path = tmp_path_factory.mktemp("korean-gateway")
    running = make_gateway(
        tmp,
        [
            {
                "name": "local-use",
                "kind": "embeddings",
                "engine": "use-multilingual",
                "models": [{"name": "use-multilingual-v3"}],
            },
            {"name": "local-minilm", "kind": "embeddings", "models": [{"name": "minilm"}]},
        ],
    )
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(gateway: Gateway) -> openai.OpenAI:
    key = gateway.create_key("korean-org")[1]
    return openai.OpenAI(base_url=gateway.v1, api_key=key, max_retries=0)


def test_sdk_gets_korean_vectors_from_use(client: openai.OpenAI) -> None:
    reply = client.embeddings.create(model="use-multilingual-v3", input=KOREAN)  # base64 by default
    assert reply.model == "use-multilingual-v3"
    assert [item.index for item in reply.data] == [0, 1, 2]
    rain, paraphrase, card = (np.array(item.embedding, dtype=np.float32) for item in reply.data)
    assert rain.shape == (512,)
    assert abs(float(np.linalg.norm(rain)) - 1.0) < 1e-4
    assert float(rain @ paraphrase) > float(rain @ card) + 0.2
    assert reply.usage.prompt_tokens == reply.usage.total_tokens > 3
    as_float = client.embeddings.create(model="use-multilingual-v3", input=KOREAN[0], encoding_format="float")
    assert np.allclose(np.array(as_float.data[0].embedding, dtype=np.float32), rain, atol=1e-6)


def test_both_models_served_with_their_own_dimensions(client: openai.OpenAI) -> None:
    minilm = client.embeddings.create(model="minilm", input="hello")
    assert len(minilm.data[0].embedding) == 384
    with pytest.raises(openai.BadRequestError) as refused:
        client.embeddings.create(model="use-multilingual-v3", input="hello", dimensions=384)
    assert "dimensions=512" in str(refused.value)


def test_token_arrays_refused_with_the_fix(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.embeddings.create(model="use-multilingual-v3", input=[[9906, 1917]])
    assert refused.value.code == "token_ids_not_supported"
    assert "check_embedding_ctx_length=False" in str(refused.value)
