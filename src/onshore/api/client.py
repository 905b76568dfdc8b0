"""The ``ClientChannel`` port over ASGI: how the pipeline's steps read the request and answer it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import TracebackType

from onshore.api.http import SSE_HEADERS, Exchange, read_body, send_bytes
from onshore.errors import ClientClosed


class AsgiClient:
    __slots__ = ("_exchange", "_extra", "_finished", "_gone", "_started")

    def __init__(self, exchange: Exchange) -> None:
        self._exchange = exchange
        self._started = False
        self._gone = False
        self._finished = False
        self._extra: tuple[tuple[bytes, bytes], ...] = ()

    @property
    def started(self) -> bool:
        return self._started

    @property
    def gone(self) -> bool:
        return self._gone

    def header(self, name: bytes) -> bytes | None:
        return self._exchange.headers.get(name)

    async def read_body(self, limit: int) -> bytes:
        exchange = self._exchange
        try:
            return await read_body(exchange.receive, exchange.headers, limit, exchange.scope)
        except ClientClosed:
            self._gone = True
            raise

    def add_headers(self, headers: Sequence[tuple[bytes, bytes]]) -> None:
        self._extra = (*self._extra, *headers)

    @property
    def extra_headers(self) -> tuple[tuple[bytes, bytes], ...]:
        return self._extra

    def cancel_on_disconnect(self) -> _DisconnectGuard:
        return _DisconnectGuard(self)

    async def send_complete(self, status: int, body: bytes) -> None:
        self._started = True
        exchange = self._exchange
        await send_bytes(exchange.send, status, body, exchange.request_id, extra=self._extra)
        self._finished = True

    async def start_stream(self) -> None:
        self._started = True
        exchange = self._exchange
        await exchange.send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [*SSE_HEADERS, (b"x-request-id", exchange.request_id.encode()), *self._extra],
            }
        )

    async def send_chunk(self, chunk: bytes) -> None:
        await self._exchange.send({"type": "http.response.body", "body": chunk, "more_body": True})

    async def end_stream(self) -> None:
        if not self._finished:
            self._finished = True
            await self._exchange.send({"type": "http.response.body", "body": b"", "more_body": False})


class _DisconnectGuard:
    """Cancels the request's task when the client disconnects; the cancellation leaves as ClientClosed.

    One watcher task per request (measured cheaper than racing the work against a second task); it
    never cancels once the answer is complete: uvicorn reports every finished request as disconnected.
    """

    __slots__ = ("_client", "_inside", "_task", "_watcher")

    def __init__(self, client: AsgiClient) -> None:
        self._client = client
        self._inside = False
        self._task: asyncio.Task[object] | None = None
        self._watcher: asyncio.Task[None] | None = None

    async def __aenter__(self) -> None:
        self._task = asyncio.current_task()
        self._inside = True
        self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        receive = self._client._exchange.receive
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
        client = self._client
        if self._inside and not client._finished and self._task is not None:
            client._gone = True
            self._task.cancel()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        self._inside = False
        task, watcher = self._task, self._watcher
        # Drop the references: the watcher's coroutine refers to this guard, so keeping them would
        # make a cycle per request, left to the cyclic GC (measured: +15 % CPU per request at c=64).
        self._task = self._watcher = None
        if watcher is not None:
            watcher.cancel()
        if not self._client._gone or task is None:
            return False
        # The cancellation was ours: take it back, and tell the steps above that the client left.
        if task.cancelling():
            task.uncancel()
        if kind is asyncio.CancelledError:
            raise ClientClosed from None
        return False
