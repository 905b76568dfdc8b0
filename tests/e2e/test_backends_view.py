"""The backends view on a real server: requests in flight and waiting in a model's fair queue, through
``GET /admin/v1/backends`` and ``onshore backends list``, and the tokens served per organisation."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.services import Gateway, Upstream, make_gateway, start_upstream, stop

SERVICE_MS = 4000  # the engine answers each request this long after it arrives: places stay busy


@pytest.fixture(scope="module")
def slow_upstream() -> Iterator[Upstream]:
    up = start_upstream(tokens=8, extra=["--ttft-ms", str(SERVICE_MS)])
    yield up
    stop(up.proc)


@pytest.fixture
def gw(slow_upstream: Upstream, tmp_path: Path) -> Iterator[Gateway]:
    gateway = make_gateway(
        tmp_path,
        [
            {
                "name": "slow-pool",
                "url": slow_upstream.url,
                "models": [{"name": "one-at-a-time", "max_in_flight": 1}],
            }
        ],
    )
    # The CLI finds the server through the config, so it must name the port the server runs on.
    config = yaml.safe_load(gateway.config_path.read_text())
    config["server"] = {"port": gateway.port}
    gateway.config_path.write_text(yaml.safe_dump(config))
    gateway.start()
    yield gateway
    gateway.stop()


def admin_backends(gw: Gateway, query: str = "") -> list[dict[str, Any]]:
    response = httpx.get(
        f"{gw.base_url}/admin/v1/backends{query}",
        headers={"Authorization": f"Bearer {gw.admin_token}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["data"]
    return rows


def test_in_flight_and_queued_requests_are_shown_by_the_api_and_the_cli(gw: Gateway) -> None:
    _, key = gw.create_key("busy-org")
    statuses: list[int] = []

    def ask() -> None:
        response = httpx.post(
            gw.v1 + "/chat/completions",
            json={"model": "one-at-a-time", "messages": [{"role": "user", "content": "hi"}]},
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        )
        statuses.append(response.status_code)

    clients = [threading.Thread(target=ask) for _ in range(3)]
    for client in clients:
        client.start()
    deadline = time.monotonic() + SERVICE_MS / 1000 - 1
    while True:  # one in the model's only place, two waiting
        [row] = admin_backends(gw, "?probe=false")
        if row["queued"] == 2:
            break
        assert time.monotonic() < deadline, row
        time.sleep(0.05)
    listed = json.loads(gw.cli("backends", "list", "--json").stdout)

    for client in clients:
        client.join(30)
    assert statuses == [200, 200, 200]
    assert row["in_flight"] == 1 and row["reachable"] is True
    [queue] = row["queues"]
    assert {k: queue[k] for k in ("model", "capacity", "in_flight", "queued")} == {
        "model": "one-at-a-time",
        "capacity": 1,
        "in_flight": 1,
        "queued": 2,
    }
    assert queue["waiting"] == [{"org": "busy-org", "tier": "standard", "requests": 2}]
    [cli_row] = listed
    assert cli_row["name"] == "slow-pool" and cli_row["reachable"] is True
    assert cli_row["in_flight"] == 1 and cli_row["queued"] in (1, 2)  # 1 if the first just finished

    [after] = admin_backends(gw)  # probed live this time
    assert (after["in_flight"], after["queued"], after["reachable"]) == (0, 0, True)
    [served] = after["queues"][0]["served_tokens"]
    assert served["org"] == "busy-org" and served["tier"] == "standard" and served["tokens"] > 0


def test_a_probe_flag_that_is_not_one_is_refused(gw: Gateway) -> None:
    response = httpx.get(
        f"{gw.base_url}/admin/v1/backends?probe=maybe", headers={"Authorization": f"Bearer {gw.admin_token}"}
    )
    assert response.status_code == 400 and response.json()["error"]["param"] == "probe"
