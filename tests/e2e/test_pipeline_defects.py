"""Defects found when the gateway was tried from outside (issues 13 and 15), each driven from
outside: the real `onshore serve`, the official openai SDK or raw HTTP, and an engine that
misbehaves the way real engines do."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import sqlalchemy as sa

from tests.support.pgproxy import TcpProxy
from tests.support.scripted_engine import ScriptedEngine
from tests.support.services import Gateway, make_gateway, postgres_database, remote_backend

MESSAGES = [{"role": "user", "content": "hi"}]
FAST = {"connect_s": 1.0, "first_byte_s": 5.0, "total_s": 10.0}


@pytest.fixture(scope="module")
def engines() -> Iterator[dict[str, ScriptedEngine]]:
    started = {mode: ScriptedEngine(mode).start() for mode in ("normal", "garbage", "cut", "fail-500")}
    yield started
    for engine in started.values():
        engine.stop()


@pytest.fixture(scope="module")
def gw(engines: dict[str, ScriptedEngine], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    normal = engines["normal"].url
    gateway = make_gateway(
        tmp_path_factory.mktemp("defects"),
        [
            remote_backend(
                "engine",
                normal,
                "flat-400",
                "fastapi-422",
                "busy-429",
                "done-nospace",
                "slow",
                "premium",
                "cheap",
                timeouts=FAST,
            ),
            # one healthy and one broken backend for each model: failover must hide the broken one
            remote_backend("good-1", normal, "pool-garbage", timeouts=FAST),
            remote_backend("bad-garbage", engines["garbage"].url, "pool-garbage", timeouts=FAST),
            remote_backend("good-2", normal, "pool-cut", timeouts=FAST),
            remote_backend("bad-cut", engines["cut"].url, "pool-cut", timeouts=FAST),
            remote_backend("good-3", normal, "pool-500", timeouts=FAST),
            remote_backend("bad-500", engines["fail-500"].url, "pool-500", timeouts=FAST),
        ],
        extra={"ledger": {"flush_interval_s": 0.05}},
    )
    gateway.start()
    yield gateway
    gateway.stop()


@pytest.fixture(scope="module")
def client(gw: Gateway) -> openai.OpenAI:
    _, key = gw.create_key("defects")
    return openai.OpenAI(base_url=gw.v1, api_key=key, max_retries=0)


def _rows(gw: Gateway, where: str = "1=1", params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    engine = sa.create_engine(f"sqlite:///{gw.data_dir / 'onshore.db'}")
    try:
        with engine.connect() as conn:
            result = conn.execute(sa.text(f"SELECT * FROM usage_records WHERE {where}"), params or {})
            return [dict(r._mapping) for r in result]
    finally:
        engine.dispose()


def _row(gw: Gateway, request_id: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = _rows(gw, "request_id = :r", {"r": request_id})
        if rows:
            return rows[0]
        time.sleep(0.05)
    raise AssertionError(f"no ledger row for {request_id}")


def test_engine_flat_error_message_reaches_the_partner_without_internal_names(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="flat-400", messages=MESSAGES)
    message = info.value.message
    assert "maximum context length is 4096 tokens" in message
    assert "/srv/models" not in message and "gpu-7.internal" not in message and "8000" not in message


def test_fastapi_detail_becomes_the_message(client: openai.OpenAI) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as info:
        client.chat.completions.create(model="fastapi-422", messages=MESSAGES)
    assert "temperature: Input should be less than or equal to 2" in info.value.message


def test_engine_429_stays_a_rate_limit_with_retry_after(client: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="busy-429", messages=MESSAGES)
    assert info.value.code == "rate_limit_exceeded"
    assert info.value.response.headers["retry-after"] == "7"


def test_done_without_a_space_is_a_complete_stream(gw: Gateway, client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="done-nospace", messages=MESSAGES, stream=True
    )
    chunks = list(raw.parse())
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "t0 t1 t2 "
    row = _row(gw, raw.headers["x-request-id"])
    assert (row["status"], row["error_code"], row["completion_tokens"]) == (200, None, 3)


@pytest.mark.parametrize("model", ["pool-garbage", "pool-cut", "pool-500"])
def test_a_broken_backend_is_failed_over_and_marked_down(
    gw: Gateway, client: openai.OpenAI, model: str
) -> None:
    """Before the fix, half the requests failed for as long as the fault lasted. Garbage and 5xx are
    seen before anything reaches the client, so no request fails; a stream cut after its first
    event cannot be retried, so at most that one request fails, and the backend is then down."""
    failed = 0
    for _ in range(10):
        try:
            if model == "pool-cut":
                stream = client.chat.completions.create(model=model, messages=MESSAGES, stream=True)
                text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
                assert text == "t0 t1 t2 "
            else:
                reply = client.chat.completions.create(model=model, messages=MESSAGES)
                assert reply.choices[0].message.content == "abc"
        except openai.APIError:
            failed += 1
    assert failed <= (1 if model == "pool-cut" else 0)
    bad = {"pool-garbage": "bad-garbage", "pool-cut": "bad-cut", "pool-500": "bad-500"}[model]
    assert f'onshore_backend_up{{backend="{bad}"}} 0.0' in httpx.get(gw.base_url + "/metrics").text


def test_the_prober_keeps_down_what_fails_inference_even_when_it_lists_models(
    gw: Gateway, client: openai.OpenAI
) -> None:
    """Each bad engine answers GET /models; the cut one even answers plain requests. A prober that
    asked the listing (or a plain request) brought them back every two seconds."""
    for model in ("pool-500", "pool-garbage"):
        for _ in range(2):  # whichever backend goes first, the bad one is tried and marked down
            client.chat.completions.create(model=model, messages=MESSAGES)
    for _ in range(2):
        try:
            list(client.chat.completions.create(model="pool-cut", messages=MESSAGES, stream=True))
        except openai.APIError:
            pass
    time.sleep(5)  # two probe rounds
    metrics = httpx.get(gw.base_url + "/metrics").text
    for bad in ("bad-500", "bad-garbage", "bad-cut"):
        assert f'onshore_backend_up{{backend="{bad}"}} 0.0' in metrics, bad


def test_duplicate_model_keys_cannot_bypass_the_allow_list(gw: Gateway) -> None:
    _, key = gw.create_key("dup", "--models", "cheap")
    body = b'{"model":"premium","model":"cheap","messages":[{"role":"user","content":"hi"}]}'
    response = httpx.post(
        gw.v1 + "/chat/completions",
        content=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400 and response.json()["error"]["param"] == "model"


def test_a_client_chosen_request_id_never_overwrites_rows(gw: Gateway, client: openai.OpenAI) -> None:
    ids = []
    for _ in range(5):
        raw = client.chat.completions.with_raw_response.create(
            model="cheap", messages=MESSAGES, extra_headers={"x-request-id": "same-id-every-time"}
        )
        ids.append(raw.headers["x-request-id"])
    assert len(set(ids)) == 5 and "same-id-every-time" not in ids
    rows = [_row(gw, i) for i in ids]
    assert all(r["client_request_id"] == "same-id-every-time" for r in rows)


def test_a_partner_who_leaves_mid_stream_pays_for_what_was_generated(
    gw: Gateway, client: openai.OpenAI
) -> None:
    _, key = gw.create_key("leaver")
    body = b'{"model":"slow","stream":true,"messages":[{"role":"user","content":"hi"}]}'
    request = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    with socket.create_connection(("127.0.0.1", gw.port)) as sock:
        sock.sendall(request)
        received = b""
        while received.count(b"data: ") < 49:
            piece = sock.recv(65536)
            assert piece
            received += piece
        head = received.split(b"\r\n\r\n", 1)[0].decode()
    request_id = next(
        line.split(":", 1)[1].strip()
        for line in head.split("\r\n")
        if line.lower().startswith("x-request-id")
    )
    row = _row(gw, request_id)
    assert row["status"] == 499
    assert row["completion_tokens"] >= 49 and row["prompt_tokens"] > 0


@pytest.mark.postgres
def test_a_replica_starts_while_the_database_is_down_and_serves_when_it_returns(
    engines: dict[str, ScriptedEngine], tmp_path: Path
) -> None:
    """Issue 13.12: it used to exit 1 after a second. Now it starts, refuses clearly (503, and
    /readyz names the database), and serves as soon as the database answers."""
    with postgres_database() as url:
        proxy = TcpProxy(url)
        proxy.start()
        gw = make_gateway(
            tmp_path, [remote_backend("engine", engines["normal"].url, "m")], database_url=proxy.url
        )
        try:
            _, key = gw.create_key("early")  # migrates and makes a key while the database is up
            proxy.cut()
            gw.start()
            ready = httpx.get(gw.base_url + "/readyz")
            assert ready.status_code == 503 and "database" in ready.json()["failing"]
            refused = httpx.post(
                gw.v1 + "/chat/completions",
                json={"model": "m", "messages": MESSAGES},
                headers={"Authorization": f"Bearer {key}"},
            )
            assert refused.status_code == 503 and refused.json()["error"]["code"] == "service_unavailable"
            assert refused.headers["retry-after"]
            proxy.restore()
            deadline = time.monotonic() + 20
            while httpx.get(gw.base_url + "/readyz").status_code != 200:
                assert time.monotonic() < deadline, gw.log_text()[-2000:]
                time.sleep(0.2)
            served = openai.OpenAI(base_url=gw.v1, api_key=key, max_retries=0).chat.completions.create(
                model="m", messages=MESSAGES
            )
            assert served.choices[0].message.content == "abc"
        finally:
            gw.stop()
            proxy.stop()


def test_a_backend_whose_credentials_are_missing_is_visible(
    engines: dict[str, ScriptedEngine], tmp_path: Path
) -> None:
    """Issue 15: it used to start silently, /readyz said healthy and partners got 502s."""
    gw = make_gateway(
        tmp_path,
        [
            remote_backend(
                "needs-key", engines["normal"].url, "m", api_key_env="ONSHORE_TEST_UNSET_ENGINE_KEY"
            )
        ],
    )
    gw.start()
    try:
        ready = httpx.get(gw.base_url + "/readyz")
        assert ready.status_code == 503 and "configuration" in ready.json()["failing"]
        log = gw.log_text()
        assert "needs-key" in log and "ONSHORE_TEST_UNSET_ENGINE_KEY" in log
    finally:
        gw.stop()


def test_serve_on_a_port_in_use_says_so_in_one_line_at_once(tmp_path: Path) -> None:
    """Issue 15: it loaded the models first, then exited 3 with a JSON line."""
    import subprocess

    from tests.support.services import ONSHORE

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        gw = make_gateway(tmp_path, [])
        started = time.monotonic()
        result = subprocess.run(
            [*ONSHORE, "serve", "--config", str(gw.config_path), "--port", str(port)],
            env=gw.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and str(port) in result.stderr
    assert time.monotonic() - started < 10
