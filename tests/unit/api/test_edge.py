"""The edge protocol as uvicorn loads it, driven through a fake transport (onshore.api.edge)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import uvicorn
from uvicorn.server import ServerState

from onshore.api.edge import EDGE_LIMITS, EdgeLimits, EdgeProtocol
from onshore.api.http import read_body
from onshore.cli.serve import EDGE_PROTOCOL
from onshore.errors import OnshoreError


async def _app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


class _Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closed = False
        self.eof = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 8080)}.get(name, default)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.eof = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def _config() -> uvicorn.Config:
    config = uvicorn.Config(app=_app, http=EDGE_PROTOCOL, lifespan="off", log_config=None)
    config.load()
    return config


def test_serve_names_a_protocol_uvicorn_loads() -> None:
    """`onshore serve` passes the protocol by import path (uvicorn >= 0.35)."""
    assert _config().http_protocol_class is EdgeProtocol


async def _connected(limits: EdgeLimits) -> tuple[EdgeProtocol, _Transport]:
    protocol = EdgeProtocol(_config(), ServerState(), {EDGE_LIMITS: limits}, asyncio.get_running_loop())
    transport = _Transport()
    protocol.connection_made(transport)
    return protocol, transport


async def test_connections_share_one_sweep_and_id_pool() -> None:
    state: dict[str, Any] = {EDGE_LIMITS: EdgeLimits()}
    server = ServerState()
    first = EdgeProtocol(_config(), server, state, asyncio.get_running_loop())
    second = EdgeProtocol(_config(), server, state, asyncio.get_running_loop())
    assert first._ids is second._ids


async def test_a_head_split_over_chunks_is_measured_across_them() -> None:
    protocol, transport = await _connected(EdgeLimits(max_header_bytes=2048))
    protocol.data_received(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Long: ")
    for _ in range(4):
        protocol.data_received(b"a" * 600)  # never reaches a callback: httptools buffers it
    head, _, body = transport.written.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 ")
    assert json.loads(body)["error"]["code"] == "headers_too_large"
    assert transport.eof  # a lingering close: the client reads the answer before the close


async def test_a_head_within_one_chunk_is_measured_exactly() -> None:
    protocol, transport = await _connected(EdgeLimits(max_header_bytes=2048))
    protocol.data_received(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-A: " + b"a" * 1900 + b"\r\n\r\n")
    await asyncio.sleep(0)
    assert transport.written.startswith(b"HTTP/1.1 200 ")
    protocol.data_received(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-A: " + b"a" * 2100 + b"\r\n\r\n")
    assert b"HTTP/1.1 431 " in transport.written


async def test_a_refusal_says_connection_close_once_while_the_server_drains() -> None:
    protocol, transport = await _connected(EdgeLimits(max_header_bytes=2048))
    protocol.server_state.default_headers = [(b"date", b"x"), (b"connection", b"close")]
    protocol.data_received(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-A: " + b"a" * 2100 + b"\r\n\r\n")
    head = transport.written.partition(b"\r\n\r\n")[0].lower()
    assert head.startswith(b"http/1.1 431 ") and head.count(b"connection: close") == 1
    assert b"date: x" in head


async def test_a_stalled_head_gets_408_from_the_sweep() -> None:
    protocol, transport = await _connected(EdgeLimits(header_timeout_s=2))
    protocol.data_received(b"GET /healthz HTTP/1.1\r\nHo")
    for tick in range(1, 5):
        protocol.check_deadline(tick)
    assert transport.written.startswith(b"HTTP/1.1 408 ")


async def test_a_waiting_new_connection_is_closed_without_an_answer() -> None:
    protocol, transport = await _connected(EdgeLimits(header_timeout_s=2))
    for tick in range(1, 5):
        protocol.check_deadline(tick)
    assert transport.closed and transport.written == b""


async def test_an_idle_keep_alive_connection_is_left_to_uvicorn() -> None:
    protocol, transport = await _connected(EdgeLimits(header_timeout_s=1, body_timeout_s=1))
    protocol.data_received(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    await asyncio.sleep(0)
    for tick in range(1, 10):
        protocol.check_deadline(tick)
    assert not transport.closed


async def _reading_app(scope: Any, receive: Any, send: Any) -> None:
    """Reads the body as the gateway's handlers do, and answers with the status it got."""
    try:
        await read_body(receive, dict(scope["headers"]), 1 << 20, scope)
        status = 200
    except OnshoreError as exc:
        status = exc.status
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})


async def _reading(limits: EdgeLimits) -> tuple[EdgeProtocol, _Transport]:
    config = uvicorn.Config(app=_reading_app, http=EDGE_PROTOCOL, lifespan="off", log_config=None)
    config.load()
    protocol = EdgeProtocol(config, ServerState(), {EDGE_LIMITS: limits}, asyncio.get_running_loop())
    transport = _Transport()
    protocol.connection_made(transport)
    return protocol, transport


async def test_a_body_trickling_a_byte_a_second_gets_408_at_its_whole_deadline() -> None:
    """Each byte restarted the idle clock: a byte a second held the connection for ever."""
    protocol, transport = await _reading(EdgeLimits(body_timeout_s=1))
    protocol.data_received(b"POST /v1/embeddings HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n")
    await asyncio.sleep(0)
    for tick in range(1, 12):
        if transport.written:
            break
        protocol.data_received(b"x")
        protocol.check_deadline(tick)
        await asyncio.sleep(0)
    assert transport.written.startswith(b"HTTP/1.1 408 ")
    assert 4 <= tick <= 6  # four body timeouts, and the sweep's second


async def test_a_malformed_chunk_is_answered_by_the_app_reading_the_body() -> None:
    protocol, transport = await _reading(EdgeLimits())
    protocol.data_received(b"POST /v1/embeddings HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
    await asyncio.sleep(0)
    protocol.data_received(b"zz\r\nabc\r\n0\r\n\r\n")
    protocol.data_received(b"more after the error is dropped")
    for _ in range(3):
        await asyncio.sleep(0)
    assert transport.written.startswith(b"HTTP/1.1 400 ")
    assert transport.written.count(b"HTTP/1.1") == 1


async def test_empty_lines_trickling_after_a_keep_alive_answer_are_cut_off() -> None:
    """Each byte stopped uvicorn's keep-alive timer, and the sweep left an answered connection alone."""
    protocol, transport = await _connected(EdgeLimits(header_timeout_s=2))
    protocol.data_received(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    await asyncio.sleep(0)
    for tick in range(1, 6):
        protocol.data_received(b"\r\n")
        protocol.check_deadline(tick)
    assert transport.closed
