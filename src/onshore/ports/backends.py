"""What a backend is to the gateway: a remote engine or an embedded model, in OpenAI's wire format."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from onshore.domain.catalog import Endpoint

# --- backends -----------------------------------------------------------------------------------


@dataclass(slots=True)
class BackendCall:
    """One request as a backend receives it: OpenAI wire format, model already the upstream name."""

    endpoint: Endpoint
    body: bytes  # what a remote engine is sent, byte for byte
    payload: dict[str, Any]  # the same body parsed (embedded backends read it; remote ones ignore it)
    stream: bool
    request_id: str
    headers: dict[str, str] = field(default_factory=dict)


class BackendReply(Protocol):
    """A backend's answer in OpenAI wire format: JSON bytes, or SSE bytes when streaming."""

    status: int

    @property
    def headers(self) -> Mapping[str, str]:
        """Response headers (Retry-After on a 429); empty for embedded models."""
        ...

    async def read(self) -> bytes:
        """The whole body (non-streaming replies and error replies)."""
        ...

    def chunks(self) -> AsyncIterator[bytes]:
        """The SSE body as it arrives, in arbitrary pieces; stopping early cancels the work."""
        ...

    async def aclose(self) -> None: ...


class Backend(Protocol):
    """Anything that answers OpenAI-compatible calls: a remote engine or an embedded model."""

    name: str
    kind: str

    async def start(self) -> None: ...
    async def aclose(self) -> None: ...
    async def check_health(self) -> bool:
        """Probe the backend now (used by ``onshore backends list`` and the health tracker)."""
        ...

    async def send(self, call: BackendCall) -> BackendReply:
        """Start the call; raise UpstreamUnavailable/UpstreamTimeout/BackendUnavailable on failure."""
        ...
