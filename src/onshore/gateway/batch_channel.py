"""The ``ClientChannel`` of a request the gateway makes itself, for a batch: the body comes from a line
of the input file and the answer is kept, to become the line's result.

It has no headers: the caller's identity is set on the context beforehand (the batch owner's key,
checked again by the authenticate step), and nothing of an HTTP client applies (it never leaves).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager

from onshore.errors import PayloadTooLarge


class BatchChannel:
    __slots__ = ("_body", "_chunks", "_extra", "_started", "body", "status")

    def __init__(self, body: bytes) -> None:
        self._body = body
        self._started = False
        self._extra: tuple[tuple[bytes, bytes], ...] = ()
        self._chunks: list[bytes] = []
        self.status = 0
        self.body = b""

    @property
    def started(self) -> bool:
        return self._started

    @property
    def gone(self) -> bool:
        return False

    def header(self, name: bytes) -> bytes | None:
        return None

    async def read_body(self, limit: int) -> bytes:
        if len(self._body) > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        return self._body

    def cancel_on_disconnect(self) -> AbstractAsyncContextManager[None]:
        return contextlib.nullcontext()

    def add_headers(self, headers: Sequence[tuple[bytes, bytes]]) -> None:
        self._extra = (*self._extra, *headers)

    @property
    def extra_headers(self) -> tuple[tuple[bytes, bytes], ...]:
        return self._extra

    async def send_complete(self, status: int, body: bytes) -> None:
        self._started = True
        self.status = status
        self.body = body

    async def start_stream(self) -> None:
        # Batch lines are refused with ``stream: true``; kept whole all the same, should one stream.
        self._started = True
        self.status = 200

    async def send_chunk(self, chunk: bytes) -> None:
        self._chunks.append(chunk)

    async def end_stream(self) -> None:
        self.body = b"".join(self._chunks)
