"""OpenAPI paths of rerank and score: passed through as bytes to engines that serve them.

The request schemas (``RerankRequest``, ``ScoreRequest``) are in ``openapi_schemas``: only ``model`` is
read by the gateway; everything else is the engine's (vLLM's shapes, Jina/Cohere-style bodies alike).
"""

from __future__ import annotations

from typing import Any

from onshore.api.openapi_invoices import Op

_PATHS = (
    ("/v1/rerank", "Rerank documents (models with rerank: true)", "RerankRequest"),
    ("/v2/rerank", "Rerank documents, Cohere v2 path", "RerankRequest"),
    ("/rerank", "Rerank documents, Jina path", "RerankRequest"),
    ("/v1/score", "Score text pairs (models with rerank: true)", "ScoreRequest"),
    ("/score", "Score text pairs, unversioned path", "ScoreRequest"),
)


def rerank_paths(op: Op, errors: tuple[int, ...]) -> dict[str, Any]:
    return {
        path: {"post": op(summary, schema, "Passthrough", *errors, tag="openai", security="partnerKey")}
        for path, summary, schema in _PATHS
    }
