"""A complete, already-rendered reply (the embeddings endpoint never streams)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from types import MappingProxyType


class BytesReply:
    """Implements ``onshore.ports.BackendReply`` for a body that is ready in full."""

    __slots__ = ("_body", "status")
    headers: Mapping[str, str] = MappingProxyType({})

    def __init__(self, body: bytes, status: int = 200) -> None:
        self._body = body
        self.status = status

    async def read(self) -> bytes:
        return self._body

    async def chunks(self) -> AsyncIterator[bytes]:
        yield self._body

    async def aclose(self) -> None:
        return None
