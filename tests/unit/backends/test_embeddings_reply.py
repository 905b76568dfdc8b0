"""The rendered embeddings body: OpenAI's shape, float and base64 carrying the same float32 values."""

from __future__ import annotations

import base64
import json

import numpy as np

from onshore.backends.embeddings.reply import BytesReply
from onshore.backends.embeddings.response import render


def test_float_and_base64_carry_the_same_vector() -> None:
    vectors = np.random.default_rng(1).standard_normal((2, 384)).astype(np.float32)
    as_float = json.loads(render(vectors, model="m", encoding="float", prompt_tokens=7))
    as_b64 = json.loads(render(vectors, model="m", encoding="base64", prompt_tokens=7))
    assert as_float["object"] == "list"
    assert as_float["model"] == "m"
    assert as_float["usage"] == {"prompt_tokens": 7, "total_tokens": 7}
    for index in range(2):
        item = as_float["data"][index]
        assert item["object"] == "embedding"
        assert item["index"] == index
        assert np.array_equal(np.array(item["embedding"], dtype=np.float32), vectors[index])
        decoded = np.frombuffer(base64.b64decode(as_b64["data"][index]["embedding"]), dtype="<f4")
        assert np.array_equal(decoded, vectors[index])


async def test_bytes_reply_reads_and_streams_its_body() -> None:
    reply = BytesReply(b"{}")
    assert reply.status == 200
    assert await reply.read() == b"{}"
    assert [chunk async for chunk in reply.chunks()] == [b"{}"]
    await reply.aclose()
