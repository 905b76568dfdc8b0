"""OpenAI's embeddings response body, rendered straight to bytes.

``base64`` is the little-endian float32 bytes of each vector, which is what the ``openai`` SDK asks for
by default and decodes with ``numpy.frombuffer(..., dtype="float32")``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import numpy as np
import orjson

from onshore.backends.embeddings.inputs import Encoding


def render(vectors: np.ndarray, *, model: str, encoding: Encoding, prompt_tokens: int) -> bytes:
    """The ``{"object": "list", "data": [...], "model", "usage"}`` body for these vectors."""
    return orjson.dumps(
        {
            "object": "list",
            "data": list(_items(vectors, encoding)),
            "model": model,
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
        },
        option=orjson.OPT_SERIALIZE_NUMPY,
    )


def _items(vectors: np.ndarray, encoding: Encoding) -> Iterator[dict[str, Any]]:
    little_endian = vectors.astype("<f4", copy=False)
    for index in range(little_endian.shape[0]):
        row = little_endian[index]
        embedding: Any = base64.b64encode(row.tobytes()).decode("ascii") if encoding == "base64" else row
        yield {"object": "embedding", "index": index, "embedding": embedding}
