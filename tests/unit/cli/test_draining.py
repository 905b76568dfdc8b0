"""The draining server (onshore.cli.draining): a real uvicorn server with the edge protocol on a real
socket, signalled with real SIGTERMs sent to this process, in front of a small streaming app whose
readiness comes from a real ``Lifecycle``."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

import httpx
import pytest
import uvicorn
from tests.support.services import free_port

from onshore.api.edge import EDGE_LIMITS, EdgeLimits
from onshore.cli.draining import DrainingServer, DrainTimes
from onshore.cli.serve import EDGE_PROTOCOL
from onshore.lifecycle import DRAIN_STATE, Check, Lifecycle

CHUNKS = 20  # a 2 s stream: longer than the delay of the first test
CHUNK_GAP_S = 0.1


class _App:
    """Streams ``CHUNKS`` chunks on /stream; /readyz answers from the lifecycle's checks."""

    def __init__(self) -> None:
        self.lifecycle = Lifecycle()
        self.stopped = False  # the lifespan shutdown ran (where Services.stop flushes the ledger)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            scope["state"][DRAIN_STATE] = self.lifecycle.begin_drain
            scope["state"][EDGE_LIMITS] = EdgeLimits()
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    self.stopped = True
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["path"] == "/readyz":
            checks = await self.lifecycle.readiness()
            status = 200 if all(c.ok for c in checks.values()) else 503
            await send({"type": "http.response.start", "status": status, "headers": []})
            await send({"type": "http.response.body", "body": b"ready" if status == 200 else b"draining"})
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for index in range(CHUNKS):
            await send({"type": "http.response.body", "body": b"%d\n" % index, "more_body": True})
            await asyncio.sleep(CHUNK_GAP_S)
        await send({"type": "http.response.body", "body": b""})


async def _serving(times: DrainTimes) -> tuple[DrainingServer, _App, asyncio.Task[None], str]:
    app = _App()
    port = free_port()
    config = uvicorn.Config(app, port=port, http=EDGE_PROTOCOL, lifespan="on", log_config=None)
    server = DrainingServer(config, times)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done()
        await asyncio.sleep(0.01)
    return server, app, task, f"http://127.0.0.1:{port}"


async def _stream(client: httpx.AsyncClient, url: str, first: asyncio.Event) -> list[bytes]:
    lines: list[bytes] = []
    async with client.stream("GET", url + "/stream") as response:
        async for line in response.aiter_lines():
            lines.append(line.encode())
            first.set()
    return lines


async def _refused(client: httpx.AsyncClient, url: str, until: float) -> bool:
    """Whether a new connection is refused before ``until`` (each answer closes its connection)."""
    while time.monotonic() < until:
        try:
            await client.get(url + "/readyz")
        except httpx.ConnectError:
            return True
        await asyncio.sleep(0.05)
    return False


def _sigterm() -> None:
    os.kill(os.getpid(), signal.SIGTERM)


async def test_a_sigterm_fails_readiness_keeps_serving_for_the_delay_then_finishes_the_stream() -> None:
    _, app, task, url = await _serving(DrainTimes(delay_s=1.0, grace_s=5.0))
    async with httpx.AsyncClient(timeout=10) as streaming, httpx.AsyncClient(timeout=5) as other:
        assert (await other.get(url + "/readyz")).status_code == 200
        first = asyncio.Event()
        stream = asyncio.create_task(_stream(streaming, url, first))
        await first.wait()
        signalled = time.monotonic()
        _sigterm()
        await asyncio.sleep(0.25)
        # Within the delay: still served, but not ready, and the connection is not kept.
        ready = await other.get(url + "/readyz")
        assert ready.status_code == 503
        assert ready.headers["connection"] == "close"
        assert (await app.lifecycle.readiness())["draining"] == Check(False, "draining")
        assert not await _refused(other, url, until=signalled + 0.6)  # the delay is not over
        assert await _refused(other, url, until=signalled + 3.0)  # after it: no new connection
        lines = await stream
    await task
    assert lines == [b"%d" % i for i in range(CHUNKS)]  # the stream under way was not cut
    assert app.stopped
    assert time.monotonic() - signalled < 3.0


async def test_what_is_left_after_the_grace_is_cut_and_the_lifespan_still_stops() -> None:
    _, app, task, url = await _serving(DrainTimes(delay_s=0.0, grace_s=0.3))
    async with httpx.AsyncClient(timeout=10) as client:
        first = asyncio.Event()
        stream = asyncio.create_task(_stream(client, url, first))
        await first.wait()
        signalled = time.monotonic()
        _sigterm()
        with pytest.raises(httpx.RemoteProtocolError):  # the chunked body ends without its last chunk
            await stream
    await task
    assert time.monotonic() - signalled < 0.3 + 2.5
    assert app.stopped


async def test_a_second_signal_skips_the_rest_of_the_delay() -> None:
    _, app, task, url = await _serving(DrainTimes(delay_s=30.0, grace_s=30.0))
    _sigterm()
    await asyncio.sleep(0.3)
    async with httpx.AsyncClient(timeout=5) as client:
        assert (await client.get(url + "/readyz")).status_code == 503  # draining, still serving
    signalled = time.monotonic()
    os.kill(os.getpid(), signal.SIGINT)
    await asyncio.wait_for(task, 3.0)
    assert time.monotonic() - signalled < 1.0
    assert app.stopped  # the ledger's flush is not skipped by a second signal


async def test_a_signal_while_starting_stops_without_a_delay() -> None:
    app = _App()
    config = uvicorn.Config(app, port=free_port(), http=EDGE_PROTOCOL, lifespan="on", log_config=None)
    server = DrainingServer(config, DrainTimes(delay_s=30.0, grace_s=30.0))
    server.handle_exit(signal.SIGTERM, None)  # as if it came before the socket was open
    started = time.monotonic()
    await asyncio.wait_for(server.serve(), 5.0)
    assert time.monotonic() - started < 2.0
    assert app.stopped


async def test_the_lifecycle_reports_draining_among_its_checks() -> None:
    lifecycle = Lifecycle()
    assert (await lifecycle.readiness()) == {"draining": Check(True, "no")}
    lifecycle.begin_drain()
    assert lifecycle.draining
    assert (await lifecycle.readiness()) == {"draining": Check(False, "draining")}
