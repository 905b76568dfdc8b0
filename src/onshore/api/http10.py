"""HTTP/1.0 responses without a Content-Length: sent as they come, ended by the close.

HTTP/1.0 has no chunked coding (RFC 9112, section 7.1: a server must not send it to a 1.0 client),
yet uvicorn's httptools protocol chunks every response that lacks a Content-Length (an SSE stream),
whatever the request's version. ``onshore.api.edge`` gives each HTTP/1.0 request's cycle a
``CloseDelimited`` send; HTTP/1.1 pays nothing.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from onshore.api.types import Message


class CloseDelimited:
    """``send`` for the response to an HTTP/1.0 request: never chunked.

    For a response without a Content-Length this steers two of uvicorn's fields so it writes the body
    as it comes and ends it by closing the connection (HTTP/1.0 requests are never kept alive), as
    uvicorn's h11 protocol does. Anything else passes through unchanged.
    """

    __slots__ = ("_cycle", "_send", "_unframed")

    def __init__(self, cycle: RequestResponseCycle) -> None:
        self._cycle = cycle
        self._send = cycle.send
        self._unframed = False

    async def __call__(self, message: Message) -> None:
        cycle = self._cycle
        if message["type"] == "http.response.start":
            if not cycle.response_started and _unframed(message, cycle.scope["method"]):
                cycle.chunked_encoding = False  # uvicorn adds no Transfer-Encoding when this is set
                self._unframed = True
        elif self._unframed:
            # uvicorn checks each write against the Content-Length it expects; there is none, so
            # each write is what is expected, and the last one leaves nothing owing.
            cycle.expected_content_length = len(message.get("body", b""))
        await self._send(message)  # type: ignore[arg-type]


def _unframed(start: Message, method: str) -> bool:
    """A response with a body and neither a Content-Length nor a Transfer-Encoding."""
    status: int = start["status"]
    if method == "HEAD" or status in (204, 304) or status < 200:
        return False
    return all(
        name.lower() not in (b"content-length", b"transfer-encoding") for name, _ in start.get("headers", ())
    )
