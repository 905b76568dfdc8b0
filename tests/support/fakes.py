"""Test doubles that implement the real ports (never a replacement for the product's own code paths).

``FakeClient`` is the partner's connection (``ClientChannel``), ``ManualClock`` a clock tests move by
hand, ``FakeBackend``/``FakeReply`` what an engine would say. Each counts what was acquired and
released so the step tests can assert "exactly once".
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType

from onshore.domain.usage import UsageRecord
from onshore.errors import ClientClosed, PayloadTooLarge
from onshore.ports import BackendCall


class ManualClock:
    """``Clock`` that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 12, 1, tzinfo=UTC)
        self._mono = 1000.0

    def monotonic(self) -> float:
        return self._mono

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self._mono += seconds
        self._now += timedelta(seconds=seconds)


class FakeClient:
    """``ClientChannel`` in memory. ``leave()`` behaves like a client closing the connection."""

    def __init__(self, body: bytes, headers: Mapping[bytes, bytes] | None = None) -> None:
        self._body = body
        self._headers = dict(headers or {})
        self.status: int | None = None
        self.sent: list[bytes] = []
        self.ended = 0
        self.guards_entered = 0
        self.guards_exited = 0
        self._started = False
        self._gone = False
        self._task: asyncio.Task[object] | None = None
        self._inside = False
        self.headers: tuple[tuple[bytes, bytes], ...] = ()

    @property
    def started(self) -> bool:
        return self._started

    @property
    def gone(self) -> bool:
        return self._gone

    def header(self, name: bytes) -> bytes | None:
        return self._headers.get(name)

    async def read_body(self, limit: int) -> bytes:
        if self._gone:
            raise ClientClosed
        if len(self._body) > limit:
            raise PayloadTooLarge
        return self._body

    def add_headers(self, headers: Sequence[tuple[bytes, bytes]]) -> None:
        self.headers = (*self.headers, *headers)

    @property
    def extra_headers(self) -> tuple[tuple[bytes, bytes], ...]:
        return self.headers

    def cancel_on_disconnect(self) -> FakeClient._Guard:
        return FakeClient._Guard(self)

    def leave(self) -> None:
        """The client hangs up: cancel the work if it is inside the guard."""
        self._gone = True
        if self._inside and self._task is not None:
            self._task.cancel()

    async def send_complete(self, status: int, body: bytes) -> None:
        self._started = True
        self.status = status
        self.sent.append(body)

    async def start_stream(self) -> None:
        self._started = True
        self.status = 200

    async def send_chunk(self, chunk: bytes) -> None:
        self.sent.append(chunk)

    async def end_stream(self) -> None:
        self.ended += 1

    @property
    def text(self) -> bytes:
        return b"".join(self.sent)

    class _Guard:
        def __init__(self, client: FakeClient) -> None:
            self._client = client

        async def __aenter__(self) -> None:
            self._client.guards_entered += 1
            self._client._task = asyncio.current_task()
            self._client._inside = True

        async def __aexit__(
            self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
        ) -> bool:
            client = self._client
            client.guards_exited += 1
            client._inside = False
            if client._gone and client._task is not None and client._task.cancelling():
                client._task.uncancel()
                if kind is asyncio.CancelledError:
                    raise ClientClosed from None
            return False


class FakeReply:
    """What an engine answers: a body, or SSE chunks; ``hang_after`` stalls the stream there."""

    def __init__(
        self,
        status: int = 200,
        body: bytes = b"",
        chunks: list[bytes] | None = None,
        *,
        fail_after: int = -1,
        hang_after: int = -1,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self._body = body
        self._chunks = chunks or []
        self._fail_after = fail_after
        self._hang_after = hang_after
        self._position = 0
        self.closed = 0
        self.headers: Mapping[str, str] = dict(headers or {})
        self.released = asyncio.Event()

    async def read(self) -> bytes:
        if self._hang_after == 0:
            await asyncio.sleep(3600)
        return self._body

    async def chunks(self) -> AsyncIterator[bytes]:
        from onshore.errors import UpstreamError

        while self._position < len(self._chunks):
            index = self._position
            if index == self._fail_after:
                raise UpstreamError
            if index == self._hang_after:
                self._hang_after = -1  # hang once: a second reader (the drain) gets the rest
                await asyncio.sleep(3600)
            self._position += 1
            yield self._chunks[index]

    async def aclose(self) -> None:
        self.closed += 1


class FakeBackend:
    kind = "fake"

    def __init__(self, name: str, *replies: FakeReply | Exception) -> None:
        self.name = name
        self._replies = list(replies)
        self.calls: list[BackendCall] = []
        self.healthy = True

    async def start(self) -> None: ...
    async def aclose(self) -> None: ...

    async def check_health(self) -> bool:
        return self.healthy

    async def send(self, call: BackendCall) -> FakeReply:
        self.calls.append(call)
        reply = self._replies[min(len(self.calls), len(self._replies)) - 1]
        if isinstance(reply, Exception):
            raise reply
        return reply


class ListSink:
    def __init__(self) -> None:
        self.rows: list[UsageRecord] = []

    def submit(self, record: UsageRecord) -> None:
        self.rows.append(record)
