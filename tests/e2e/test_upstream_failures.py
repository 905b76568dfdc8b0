"""What a partner sees when the engine is slow, dies mid-stream, or when the partner leaves."""

from __future__ import annotations

import re
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.support.services import Gateway, Upstream, make_gateway, remote_backend, start_upstream, stop

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def slow() -> Iterator[Upstream]:
    # 50 tokens, 100 ms apart: a stream that lasts 5 s.
    up = start_upstream(tokens=50, extra=["--token-delay-ms", "100", "--ttft-ms", "50"])
    yield up
    stop(up.proc)


@pytest.fixture
def gw(slow: Upstream, upstream: Upstream, tmp_path: Path) -> Iterator[Gateway]:
    gateway = make_gateway(
        tmp_path,
        [
            remote_backend(
                "slow", slow.url, "slow-model", timeouts={"connect_s": 1, "first_byte_s": 3, "total_s": 60}
            ),
            remote_backend(
                "impatient",
                slow.url,
                ("impatient-model", "x"),
                timeouts={"connect_s": 1, "first_byte_s": 0.02, "total_s": 60},
            ),
            remote_backend("a", upstream.url, "shared-model"),
            remote_backend("b", "http://127.0.0.1:9/v1", "shared-model"),
        ],
    )
    gateway.start()
    yield gateway
    gateway.stop()


def _in_flight(gw: Gateway, backend: str) -> float:
    text = httpx.get(gw.base_url + "/metrics").text
    match = re.search(rf'onshore_backend_in_flight{{backend="{backend}"}} ([0-9.]+)', text)
    assert match, text[:500]
    return float(match.group(1))


def test_first_byte_timeout_is_504(gw: Gateway) -> None:
    _, key = gw.create_key("t")
    with pytest.raises(openai.APIStatusError) as info:
        openai.OpenAI(base_url=gw.v1, api_key=key, max_retries=0).chat.completions.create(
            model="impatient-model", messages=MESSAGES
        )
    assert info.value.status_code == 504
    assert info.value.code == "upstream_timeout"


def test_a_dead_backend_is_skipped_for_a_shared_model(gw: Gateway) -> None:
    _, key = gw.create_key("t")
    client = openai.OpenAI(base_url=gw.v1, api_key=key, max_retries=0)
    for _ in range(6):  # the dead one is tried at most once, then skipped
        assert client.chat.completions.create(model="shared-model", messages=MESSAGES).choices


def test_disconnect_cancels_the_upstream_request(gw: Gateway) -> None:
    _, key = gw.create_key("t")
    body = b'{"model":"slow-model","stream":true,"messages":[{"role":"user","content":"hi"}]}'
    request = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    with socket.create_connection(("127.0.0.1", gw.port)) as sock:
        sock.sendall(request)
        received = b""
        while b"data:" not in received:
            received += sock.recv(65536)
        assert _in_flight(gw, "slow") == 1
    deadline = time.monotonic() + 2
    while _in_flight(gw, "slow") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _in_flight(gw, "slow") == 0  # the 5 s stream was abandoned at once, not run to the end


def test_upstream_dying_mid_stream_ends_with_an_error_event(slow: Upstream, gw: Gateway) -> None:
    _, key = gw.create_key("t")
    client = openai.OpenAI(base_url=gw.v1, api_key=key, max_retries=0)
    stream = client.chat.completions.create(model="slow-model", messages=MESSAGES, stream=True)
    received = []
    started = time.monotonic()
    with pytest.raises(openai.APIError) as info:
        for chunk in stream:
            received.append(chunk)
            if len(received) == 3:
                slow.proc.send_signal(signal.SIGKILL)
    assert received and time.monotonic() - started < 5
    assert "backend" in str(info.value.message).lower()
