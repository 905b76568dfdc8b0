"""What the gateway serves: public model names and the endpoints a request can target."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Endpoint(enum.StrEnum):
    CHAT = "chat.completions"
    COMPLETIONS = "completions"
    EMBEDDINGS = "embeddings"
    RESPONSES = "responses"
    RERANK = "rerank"  # passed through to engines that serve it (vLLM, TEI, Infinity: ModelSettings.rerank)
    SCORE = "score"

    @property
    def generates(self) -> bool:
        """Whether the answer is generated text (output tokens to reserve), not vectors or scores."""
        return self not in (Endpoint.EMBEDDINGS, Endpoint.RERANK, Endpoint.SCORE)

    @property
    def path(self) -> str:
        return "/" + self.value.replace(".", "/")


@dataclass(frozen=True, slots=True)
class ModelRoute:
    """A public model as one backend serves it."""

    public_name: str
    upstream_name: str
    backend: str
    # Where the backend processes data (ISO 3166-1 alpha-2): routing never leaves a request's
    # allowed jurisdictions. Embedded models are in the gateway's own.
    jurisdiction: str = "KR"
    operator: str | None = None  # who runs the backend (for residency reports and audits)
    rerank: bool = False  # the engine serves /v1/rerank and /v1/score for this model
    native_responses: bool = False  # the engine serves /v1/responses itself (no translation)


@dataclass(frozen=True, slots=True)
class BackendStatus:
    name: str
    kind: str
    models: tuple[str, ...]
    healthy: bool
    detail: str  # safe to show an operator: never an exception text or a secret
