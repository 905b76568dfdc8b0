"""The HTTP/1.1 edge: uvicorn's httptools protocol with the limits it lacks (issue 13, items 7 and 13).

uvicorn's httptools protocol bounds nothing before the app sees a request: a 200 MB header was read
whole (httptools joins the pieces of one header by copying, so a 64 MB one held the event loop for
3.85 s), and a client that stopped half-way through its headers or its body held the connection for
minutes. ``EdgeProtocol`` adds, at the noted cost per request:

- **Head size** (``server.max_header_bytes``): the bytes of the chunks a head arrives in are counted
  (an add per chunk). While a head is incomplete they bound it from below, which stops a header that
  never ends (its pieces are buffered inside httptools and reach no callback) one chunk past the
  limit; once it is complete they bound it from above, and only past the limit is the head itself
  measured. Above the limit: 431 (414 for the URL), and the connection closes.
- **Read timeouts** (``server.header_timeout_s``, ``server.body_timeout_s``): one call a second per
  worker walks the open connections (``_Sweeper``); a request only records its phase. A head that
  is not complete in time gets 408; a body that stops arriving for the body timeout is handed back to
  the app, whose ``read_body`` answers 408 with the request's id, so the ledger sees it too. A body
  that keeps trickling in is not idle, so the whole body also has a deadline: four body timeouts,
  plus a second per KiB that arrived (a client sending a byte a second held its connection for as
  long as it liked; a real upload, even over a slow link, is far inside it). Bytes that begin no
  request (the empty lines RFC 9112 lets a client send first) count as a head: a trickle of them
  after a keep-alive answer held the connection too, since each one stopped uvicorn's idle timer.
- **A malformed body** (a bad chunk size): when the app is reading the body, it answers 400 as for a
  timeout, with the request's id; otherwise the edge answers 400 itself, or closes the connection
  when a response is under way.
- **Answers of the edge itself** (400 for a malformed request, 408, 414, 431) are OpenAI-shaped JSON
  with an ``x-request-id``, and end with a lingering close: the client reads the answer instead of a
  reset caused by the bytes it was still sending.
- **HTTP/1.0** (``onshore.api.http10``): a response without a Content-Length (an SSE stream) is sent
  as it comes and ended by the close, never chunked. Only HTTP/1.0 requests pay for it.
- **Access log** (``server.access_log``, ``onshore.api.access_log``): one line per response, without
  query string, header or body. When it is off, uvicorn's own access-log call is skipped altogether
  (it formatted its arguments on every response, for a logger held at WARNING).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import MutableSet
from dataclasses import dataclass
from typing import Any

import orjson
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from onshore.api.access_log import ACCESS_LOGGER, enable_access_log
from onshore.api.http import BODY_REFUSED, RequestIds
from onshore.api.http10 import CloseDelimited
from onshore.config.loading import load_settings
from onshore.config.settings import ServerSettings
from onshore.errors import InvalidRequest, OnshoreError, RequestTimeout

log = logging.getLogger("onshore.api")

# The phases of a connection, as the sweeper reads them.
_FRESH = 0  # connected; no byte of a request yet
_HEAD = 1  # a request head has begun and is not complete
_BODY = 2  # the head is complete, the body is not
_BODY_LATE = 3  # the body timed out: the app was told, and has a moment to answer 408
_DONE = 4  # the request is read: the app answers it, or the connection idles (uvicorn's keep-alive)
_CLOSING = 5  # answered by the edge itself: what the client still sends is dropped unparsed

_LINGER_S = 2.0  # how long a refused client may go on sending before the connection closes
_GRACE_TICKS = 2  # seconds the app has to answer 408 once its request body timed out
_BODY_SPAN = 4  # the whole body arrives within this many body timeouts ...
_BODY_RATE = 1024  # ... plus a second per this many bytes of it


@dataclass(frozen=True, slots=True)
class EdgeLimits:
    """The edge's settings (``server.*``)."""

    max_header_bytes: int = 64 * 1024
    header_timeout_s: float = 20.0
    body_timeout_s: float = 30.0
    access_log: bool = False

    @classmethod
    def from_settings(cls, server: ServerSettings) -> EdgeLimits:
        return cls(server.max_header_bytes, server.header_timeout_s, server.body_timeout_s, server.access_log)


# uvicorn hands every connection of a server the same ``app_state`` dict (the lifespan state): the
# parts the connections share live there, made at the first connection, not in a module global.
EDGE_LIMITS = "onshore.edge.limits"  # an EdgeLimits put here first wins over the settings
_SHARED = "onshore.edge.shared"


class _Shared:
    """What the connections of one server share: the limits, the timeout sweep and an id pool."""

    __slots__ = ("ids", "limits", "sweeper")

    def __init__(self, limits: EdgeLimits, loop: asyncio.AbstractEventLoop, connections: MutableSet[Any]):
        self.limits = limits
        self.sweeper = _Sweeper(loop, connections)
        self.ids = RequestIds()
        if limits.access_log:
            enable_access_log()

    @staticmethod
    def of(
        app_state: dict[str, Any], loop: asyncio.AbstractEventLoop, connections: MutableSet[Any]
    ) -> _Shared:
        shared = app_state.get(_SHARED)
        if not isinstance(shared, _Shared):
            limits = app_state.get(EDGE_LIMITS)
            if not isinstance(limits, EdgeLimits):
                # Once per worker: the same file and environment its app was just built from
                # (``onshore serve`` names uvicorn's protocol by its import path, and the CLI does
                # not import the web face, so the limits cannot be handed over as an object).
                limits = EdgeLimits.from_settings(load_settings().server)
            shared = app_state[_SHARED] = _Shared(limits, loop, connections)
        return shared


class _Sweeper:
    """Once a second, times out the connections of one server that stalled reading a request.

    Cheaper than a timer per request (arming and cancelling one costs 1-2 µs, on every request): a
    request only records its phase, and the sweeper stamps a connection with its tick the first time
    it sees it waiting in that phase, so a timeout fires within a second of its setting. Cost: a few
    attribute reads per open connection per second (2,000 connections: well under 1 ms a second).
    """

    __slots__ = ("_connections", "loop", "tick")

    def __init__(self, loop: asyncio.AbstractEventLoop, connections: MutableSet[Any]) -> None:
        self.loop = loop
        self.tick = 0
        self._connections = connections
        loop.call_later(1.0, self._sweep)

    def _sweep(self) -> None:
        self.tick += 1
        try:
            for connection in tuple(self._connections):
                if isinstance(connection, EdgeProtocol):
                    connection.check_deadline(self.tick)
        except Exception:  # a bug here must not end the sweeping for the life of the process
            log.exception("the edge's timeout sweep failed")
        finally:
            self.loop.call_later(1.0, self._sweep)


_base_data_received = HttpToolsProtocol.data_received
_base_message_begin = HttpToolsProtocol.on_message_begin
_base_headers_complete = HttpToolsProtocol.on_headers_complete
_base_message_complete = HttpToolsProtocol.on_message_complete


class _Refused(Exception):
    """Raised in a parser callback to stop parsing; ``EdgeProtocol._refusal`` says what to answer."""


class EdgeProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the edge's limits; ``onshore serve`` names it by path."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        shared = _Shared.of(app_state, self.loop, server_state.connections)
        limits = shared.limits
        self._max_head = limits.max_header_bytes
        self._header_ticks = max(1, math.ceil(limits.header_timeout_s))
        self._body_ticks = max(1, math.ceil(limits.body_timeout_s))
        self._ids = shared.ids
        self._phase = _FRESH
        self._since: int | None = None  # the sweeper's tick when it first saw this phase waiting
        self._body_since: int | None = None  # the sweeper's tick when it first saw this body
        self._body_bytes = 0  # the bytes of the chunks that came while the body was read
        self._chunk = 0  # the size of the chunk being parsed
        self._first = 0  # the size of the chunk the current head began in
        self._unparsed = 0  # bytes of the current head's chunks after its first one
        self._refusal: tuple[int, str, str] | None = None
        # uvicorn decides from the logger's handlers, and then formats the arguments of a line that
        # the level drops, on every response; this edge logs exactly when the setting says so.
        self.access_log = limits.access_log
        if limits.access_log:
            self.access_logger = logging.getLogger(ACCESS_LOGGER)

    # --- reading -------------------------------------------------------------------------------
    # uvicorn's methods are called directly, not through super(): that costs ~0.1 µs less a call,
    # and these run for every request.

    def data_received(self, data: bytes) -> None:
        size = len(data)
        phase = self._phase
        if phase == _HEAD:
            self._unparsed += size
        elif phase == _BODY:
            self._since = None  # the body moves: its idle clock starts again
            self._body_bytes += size
        elif phase == _DONE:
            # A new head, or bytes that begin none (empty lines): a head's deadline either way.
            self._phase = _FRESH
            self._since = None
        elif phase in (_CLOSING, _BODY_LATE):
            return  # refused: what the client still sends is dropped unparsed
        self._chunk = size
        _base_data_received(self, data)
        if self._phase == _HEAD and self._unparsed > self._max_head:
            self._refuse(*self._too_large())

    def on_message_begin(self) -> None:
        _base_message_begin(self)
        self._phase = _HEAD
        self._since = None
        self._first = self._chunk  # the head began somewhere in this chunk: count all of it
        self._unparsed = 0

    def on_headers_complete(self) -> None:
        # The chunks this head came in bound its size from above; only when they pass the limit is
        # the head itself measured (a sum over its headers, ~1 µs).
        if self._first + self._unparsed > self._max_head and self._head_size() > self._max_head:
            self._refusal = self._too_large()
            raise _Refused
        self._phase = _BODY
        self._since = self._body_since = None
        self._body_bytes = 0
        _base_headers_complete(self)
        cycle = self.cycle
        if self.scope["http_version"] == "1.0" and cycle is not None and cycle.scope is self.scope:
            # An instance attribute shadows the method for this one response (uvicorn's run_asgi
            # looks ``send`` up when it calls the app).
            cycle.send = CloseDelimited(cycle)  # type: ignore[method-assign, assignment]

    def on_message_complete(self) -> None:
        self._phase = _DONE
        _base_message_complete(self)

    def _head_size(self) -> int:
        return len(self.url) + sum(len(name) + len(value) for name, value in self.headers)

    def _too_large(self) -> tuple[int, str, str]:
        limit = self._max_head
        if len(self.url) > limit:  # the URL alone: 414, which says what to shorten
            return (414, "url_too_long", f"The request URL exceeds {limit} bytes.")
        return (431, "headers_too_large", f"The request headers exceed {limit} bytes.")

    # --- answers of the edge itself ---------------------------------------------------------------

    def send_400_response(self, msg: str) -> None:
        """uvicorn calls this for any parser error, the ones our callbacks raise on purpose included."""
        refusal, self._refusal = self._refusal, None
        status, code, message = refusal or (400, "invalid_http_request", "The HTTP request is malformed.")
        # A malformed body behind a good head: the app has the request, and answers with its id.
        if (
            refusal is None
            and self._phase == _BODY
            and self._refuse_body(InvalidRequest(message, code=code), None)
        ):
            return
        self._refuse(status, code, message)

    def _refuse(self, status: int, code: str, message: str) -> None:
        transport = self.transport
        if self._phase == _CLOSING or transport.is_closing():
            return
        self._phase = _CLOSING
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            # A pipelined request's response is still on its way: no answer can go before it ends.
            transport.close()
            return
        body = orjson.dumps(
            {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}
        )
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            if name != b"connection":  # a draining server adds "close" there (cli/draining.py)
                head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: application/json\r\ncontent-length: ",
            str(len(body)).encode(),
            b"\r\nx-request-id: ",
            self._ids.next().encode(),
            b"\r\nconnection: close\r\n\r\n",
            body,
        ]
        transport.write(b"".join(head))
        self._linger()

    def _linger(self) -> None:
        """Close once the answer is out, dropping what the client still sends for a moment.

        Closing a socket with unread bytes resets the connection, and a reset can destroy the answer
        before the client reads it (a client still sending its 1 MB header would see no 431 at all).
        """
        self._phase = _CLOSING
        transport = self.transport
        if transport.can_write_eof():
            transport.write_eof()
        self.flow.resume_reading()
        self.loop.call_later(_LINGER_S, transport.close)

    # --- timeouts ------------------------------------------------------------------------------

    def check_deadline(self, tick: int) -> None:
        """Called by the sweeper once a second."""
        phase = self._phase
        if phase >= _DONE:
            return
        if phase == _BODY:
            self._check_body(tick)
            return
        since = self._since
        if since is None:
            self._since = tick
            return
        waited = tick - since
        if phase == _BODY_LATE:
            if waited >= _GRACE_TICKS:  # the app did not answer: end the request
                self._phase = _CLOSING
                self.transport.close()
        elif waited >= self._header_ticks:
            cycle = self.cycle
            if cycle is not None and not cycle.response_complete:
                self._since = tick  # a pipelined head waits behind a response still being sent
            elif phase == _FRESH:
                self._phase = _CLOSING  # connected, and sent no request: no one to answer
                self.transport.close()
            else:
                self._refuse(408, "request_timeout", "The request headers did not arrive in time.")

    def _check_body(self, tick: int) -> None:
        """The body's idle clock (restarted by every chunk) and its whole deadline (never restarted)."""
        since = self._since = tick if self._since is None else self._since
        began = self._body_since = tick if self._body_since is None else self._body_since
        cycle = self.cycle
        if self.flow.read_paused or (cycle is not None and cycle.waiting_for_100_continue):
            # The app has not read what came yet, or has not asked for the body (a client that
            # sent "Expect: 100-continue" waits for that): the stall is ours, not the client's.
            self._since = tick
            self._body_since = began + 1
        elif tick - since >= self._body_ticks or tick - began >= self._body_deadline():
            self._body_timed_out(tick)

    def _body_deadline(self) -> int:
        return _BODY_SPAN * self._body_ticks + self._body_bytes // _BODY_RATE

    def _body_timed_out(self, tick: int) -> None:
        cycle = self.cycle
        if cycle is None or cycle.scope is not self.scope or cycle.response_complete:
            self._linger()  # answered without the body (e.g. a 401): only the connection is left
        elif cycle.response_started:
            self._since = tick  # the app answers while the body trickles in: that is its business
            self._body_since = None
        else:
            self._refuse_body(RequestTimeout(), tick)

    def _refuse_body(self, error: OnshoreError, tick: int | None) -> bool:
        """Hand the app ``error`` for its ``read_body`` to raise; False when it has answered already."""
        cycle = self.cycle
        if cycle is None or cycle.scope is not self.scope or cycle.response_started:
            return False
        scope: dict[str, Any] = cycle.scope  # type: ignore[assignment]
        scope[BODY_REFUSED] = error  # read_body raises it: an answer with the request's id
        cycle.keep_alive = False  # and the connection closes after that answer
        cycle.message_event.set()  # wakes the app's receive()
        self._phase = _BODY_LATE
        self._since = tick
        return True
