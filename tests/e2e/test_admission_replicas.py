"""Limits that hold exactly across replicas: two real gateway processes on one PostgreSQL and one Redis
(a Redis this module starts on its own port, since one test stops it), many concurrent clients on
one key through both."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.redis_server import RedisServer
from tests.support.services import Gateway, Upstream, make_gateway, postgres_database, remote_backend

pytestmark = [pytest.mark.redis]

SECRET = "replicas-share-this-secret-0123456789"


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


def _replica(tmp: Path, name: str, upstream: Upstream, db: str, redis_url: str, **limits: Any) -> Gateway:
    (tmp / name).mkdir()
    gw = make_gateway(
        tmp / name,
        [remote_backend("pool", upstream.url, "bench-model")],
        database_url=db,
        redis_url=redis_url,
        extra={"limits": {"store_timeout_s": 0.2, "store_retry_s": 0.5, **limits}},
    )
    gw.env["ONSHORE_SECRET"] = SECRET
    return gw


@pytest.fixture
def replicas(upstream: Upstream, redis_server: RedisServer, tmp_path: Path) -> Iterator[list[Gateway]]:
    if redis_server.proc is None:
        redis_server.start()
    with postgres_database() as db:
        gateways = [_replica(tmp_path, name, upstream, db, redis_server.url) for name in ("a", "b")]
        for gw in gateways:
            gw.start()
        yield gateways
        for gw in gateways:
            gw.stop()


def admin(gw: Gateway) -> dict[str, str]:
    return {"Authorization": f"Bearer {gw.admin_token}"}


def put_limits(gw: Gateway, path: str, **values: Any) -> dict[str, Any]:
    response = httpx.put(f"{gw.base_url}/admin/v1/{path}/limits", json=values, headers=admin(gw))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def chat_body(max_tokens: int = 16) -> dict[str, Any]:
    return {
        "model": "bench-model",
        "messages": [{"role": "user", "content": "hello"}],
        "max_tokens": max_tokens,
    }


async def _burst(replicas: list[Gateway], key: str, n: int, body: dict[str, Any]) -> list[httpx.Response]:
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        return await asyncio.gather(
            *(
                client.post(replicas[i % 2].v1 + "/chat/completions", json=body, headers=headers)
                for i in range(n)
            )
        )


def test_requests_admitted_in_a_window_equal_the_limit_exactly_across_replicas(
    replicas: list[Gateway],
) -> None:
    first, second = replicas
    key_id, key = first.create_key("exact-org")
    second.wait_key_accepted(key)
    put_limits(first, f"keys/{key_id}", rpm=40)
    # Set through the first replica, it binds on the second at once.
    started = time.monotonic()
    probes = 0
    while True:
        probes += 1
        response = httpx.post(
            second.v1 + "/chat/completions", json=chat_body(), headers={"Authorization": f"Bearer {key}"}
        )
        if response.headers.get("x-ratelimit-limit-requests") == "40":
            break
        assert time.monotonic() - started < 1.0, "the limit did not reach the other replica within 1 s"
    responses = asyncio.run(_burst(replicas, key, 120, chat_body()))
    remaining = sorted(
        int(r.headers["x-ratelimit-remaining-requests"]) for r in responses if r.status_code == 200
    )
    admitted = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code == 429]
    assert len(admitted) + len(refused) == 120
    # The probe that saw the limit counted too (earlier ones had none); every count was taken once.
    assert (len(admitted), remaining) == (40 - 1, list(range(39))), (probes, remaining)
    error = refused[0].json()["error"]
    assert error["code"] == "rate_limit_exceeded" and error["type"] == "rate_limit_error"
    assert 1 <= int(refused[0].headers["retry-after"]) <= 60
    assert int(refused[0].headers["retry-after-ms"]) <= 60_000
    assert refused[0].headers["x-ratelimit-remaining-requests"] == "0"


def test_a_krw_budget_is_never_overspent_by_more_than_one_reservation(replicas: list[Gateway]) -> None:
    first, second = replicas
    response = httpx.put(
        first.base_url + "/admin/v1/prices",
        json={
            "model": "bench-model",
            "input_krw": 20_000,
            "output_krw": 20_000,
            "effective_from": "2020-01-01",
        },
        headers=admin(first),
    )
    assert response.status_code == 200, response.text
    _, key = first.create_key("budget-org")
    second.wait_key_accepted(key)
    put_limits(first, "orgs/budget-org", monthly_budget_krw=10)
    time.sleep(0.5)  # both replicas have the price and the budget (the bus makes it immediate)
    body = chat_body(max_tokens=16)
    responses = asyncio.run(_burst(replicas, key, 200, body))
    statuses = {r.status_code for r in responses}
    assert statuses <= {200, 429}
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 429} == {"insufficient_quota"}
    assert all(r.headers.get("x-should-retry") == "false" for r in responses if r.status_code == 429)
    for gw in replicas:
        gw.stop()  # flush both ledgers
    usage = first.cli("usage", "--org", "budget-org", "--json").stdout
    import json

    spent = float(json.loads(usage)["cost_krw"])
    # One reservation: the prompt estimate (body bytes / 3) and max_tokens, at 20,000 KRW per million.
    one_reservation = (len(httpx.Request("POST", "/", json=body).content) / 3 + 16) * 0.02
    assert 0 < spent <= 10 + one_reservation
    assert spent > 5  # and the budget was used, not refused early by reservations never settled
    for gw in replicas:
        gw.start()


def test_redis_stopped_mid_run_is_obeyed_open_or_closed_and_both_recover(
    upstream: Upstream, redis_server: RedisServer, tmp_path: Path
) -> None:
    with postgres_database() as db:
        open_gw = _replica(tmp_path, "open", upstream, db, redis_server.url, on_store_error="open")
        closed_gw = _replica(tmp_path, "closed", upstream, db, redis_server.url, on_store_error="closed")
        try:
            for gw in (open_gw, closed_gw):
                gw.start()
            key_id, key = open_gw.create_key("outage-org")
            closed_gw.wait_key_accepted(key)
            put_limits(open_gw, f"keys/{key_id}", rpm=10_000)
            time.sleep(0.3)
            headers = {"Authorization": f"Bearer {key}"}

            def ask(gw: Gateway) -> tuple[httpx.Response, float]:
                started = time.monotonic()
                response = httpx.post(
                    gw.v1 + "/chat/completions", json=chat_body(), headers=headers, timeout=10
                )
                return response, time.monotonic() - started

            for gw in (open_gw, closed_gw):
                response, _ = ask(gw)
                assert response.status_code == 200 and "x-ratelimit-limit-requests" in response.headers

            redis_server.stop()
            for _ in range(5):
                response, took = ask(open_gw)
                assert response.status_code == 200 and took < 1.0  # admitted unchecked, within the timeout
                assert "x-ratelimit-limit-requests" not in response.headers
                response, took = ask(closed_gw)
                assert response.status_code == 503 and took < 1.0
                assert response.json()["error"]["code"] == "limits_unavailable"
                assert "retry-after" in response.headers
            metrics = httpx.get(closed_gw.base_url + "/metrics").text
            assert 'onshore_limits_store_unavailable_total{decision="closed"}' in metrics

            redis_server.start()  # the same port: the gateways find it again by themselves
            for gw in (open_gw, closed_gw):
                deadline = time.monotonic() + 5
                while True:
                    response, _ = ask(gw)
                    if response.status_code == 200 and "x-ratelimit-limit-requests" in response.headers:
                        break
                    assert time.monotonic() < deadline, f"{gw.port} did not recover: {response.status_code}"
                    time.sleep(0.1)
            for gw in (open_gw, closed_gw):
                assert "Traceback" not in gw.log_text()
        finally:
            for gw in (open_gw, closed_gw):
                gw.stop()
            if redis_server.proc is None:
                redis_server.start()
