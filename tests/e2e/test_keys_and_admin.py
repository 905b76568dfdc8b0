"""Key lifecycle across processes: CLI, admin API, several replicas, with and without Redis."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.support.services import Gateway, Upstream, make_gateway, redis_available, remote_backend

MESSAGES = [{"role": "user", "content": "hi"}]


def _works(gw: Gateway, key: str) -> bool:
    return httpx.get(gw.v1 + "/models", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def _time_until_refused(gw: Gateway, key: str, timeout: float = 5.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if not _works(gw, key):
            return time.monotonic() - started
        time.sleep(0.01)
    raise AssertionError("the key still works")


def test_cli_revocation_stops_a_running_server_within_one_second(gateway: Gateway) -> None:
    key_id, key = gateway.create_key("revoke-org")
    client = openai.OpenAI(base_url=gateway.v1, api_key=key, max_retries=0)
    client.chat.completions.create(model="bench-model", messages=MESSAGES)
    gateway.cli("keys", "revoke", key_id)
    assert _time_until_refused(gateway, key) < 1.0
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="bench-model", messages=MESSAGES)


def test_admin_api_lifecycle(gateway: Gateway) -> None:
    admin = {"Authorization": f"Bearer {gateway.admin_token}"}
    base = gateway.base_url + "/admin/v1"
    created = httpx.post(base + "/orgs", json={"name": "admin-made"}, headers=admin)
    assert created.status_code == 201 and created.json()["name"] == "admin-made"
    assert httpx.post(base + "/orgs", json={"name": "admin-made"}, headers=admin).status_code == 409
    new = httpx.post(
        base + "/keys", json={"org": "admin-made", "models": ["bench-model"], "name": "ci"}, headers=admin
    )
    assert new.status_code == 201
    secret, key_id = new.json()["key"], new.json()["id"]
    assert secret.startswith("sk-onshore-")
    assert _works(gateway, secret)  # at once on the replica that created it
    listed = httpx.get(base + "/keys", params={"org": "admin-made"}, headers=admin).json()["data"]
    assert [k["id"] for k in listed] == [key_id] and "key" not in listed[0]
    assert httpx.post(base + f"/keys/{key_id}/revoke", headers=admin).status_code == 200
    assert not _works(gateway, secret)  # at once on the replica that revoked it
    assert httpx.post(base + "/keys/key_nope/revoke", headers=admin).status_code == 404
    assert httpx.get(base + "/keys", params={"org": "nobody"}, headers=admin).status_code == 404
    usage = httpx.get(base + "/usage", params={"org": "admin-made", "month": "2026-13"}, headers=admin)
    assert usage.status_code == 400 and usage.json()["error"]["param"] == "month"
    backends = httpx.get(base + "/backends", headers=admin).json()["data"]
    assert {b["name"]: b["reachable"] for b in backends} == {"pool-a": True, "pool-dead": False}
    assert httpx.get(base + "/orgs", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.delete(base + "/orgs", headers=admin).status_code == 405


@pytest.fixture(params=["poll", pytest.param("redis", marks=pytest.mark.redis)])
def replicas(request: pytest.FixtureRequest, upstream: Upstream, tmp_path: Path) -> Iterator[list[Gateway]]:
    """Two replicas sharing one database (and, in one variant, one Redis)."""
    redis_url = redis_available() if request.param == "redis" else None
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    gateways = []
    for index in range(2):
        (tmp_path / f"r{index}").mkdir()
        gw = make_gateway(
            tmp_path / f"r{index}",
            [remote_backend("pool", upstream.url, "bench-model")],
            database_url=db,
            redis_url=redis_url,
            extra={"auth": {"sync_interval_s": 0.5}, "data_dir": str(tmp_path / "data")},
        )
        gateways.append(gw)
    for gw in gateways:
        gw.start()
    yield gateways
    for gw in gateways:
        gw.stop()


def test_revocation_reaches_every_replica_within_one_second(replicas: list[Gateway]) -> None:
    first, second = replicas
    key_id, key = first.create_key("replica-org")
    second.wait_key_accepted(key)
    first.cli("keys", "revoke", key_id)
    assert _time_until_refused(first, key) < 1.0
    assert _time_until_refused(second, key) < 1.0


def test_admin_revocation_on_one_replica_reaches_the_other(replicas: list[Gateway]) -> None:
    first, second = replicas
    _, key = first.create_key("replica-org-2")
    second.wait_key_accepted(key)
    key_id = next(
        k["id"]
        for k in httpx.get(
            first.base_url + "/admin/v1/keys",
            params={"org": "replica-org-2"},
            headers={"Authorization": f"Bearer {first.admin_token}"},
        ).json()["data"]
    )
    httpx.post(
        first.base_url + f"/admin/v1/keys/{key_id}/revoke",
        headers={"Authorization": f"Bearer {first.admin_token}"},
    )
    assert not _works(first, key)
    assert _time_until_refused(second, key) < 1.0


def test_a_key_created_by_the_cli_works_at_once(gateway: Gateway) -> None:
    import json

    gateway.cli("orgs", "create", "instant-org", check=False)
    created = json.loads(gateway.cli("keys", "create", "--org", "instant-org", "--json").stdout)
    client = openai.OpenAI(base_url=gateway.v1, api_key=created["key"], max_retries=0)
    assert client.chat.completions.create(model="bench-model", messages=MESSAGES).choices


def test_every_change_leaves_an_audit_entry_naming_who_made_it(gateway: Gateway) -> None:
    admin = {"Authorization": f"Bearer {gateway.admin_token}"}
    org = httpx.post(gateway.base_url + "/admin/v1/orgs", json={"name": "audited"}, headers=admin).json()
    key = httpx.post(gateway.base_url + "/admin/v1/keys", json={"org": "audited"}, headers=admin).json()
    httpx.post(f"{gateway.base_url}/admin/v1/keys/{key['id']}/revoke", headers=admin).raise_for_status()
    key_id_cli, _ = gateway.create_key("audited")
    gateway.cli("keys", "revoke", key_id_cli)

    listed = httpx.get(gateway.base_url + "/admin/v1/audit", params={"org": "audited"}, headers=admin).json()
    actions = [(e["action"], e["actor"], e["target_id"]) for e in reversed(listed["data"])]
    assert actions[:3] == [
        ("org.create", "operator:admin", org["id"]),
        ("key.create", "operator:admin", key["id"]),
        ("key.revoke", "operator:admin", key["id"]),
    ]
    assert [a[0] for a in actions[3:]] == ["key.create", "key.revoke"]
    assert all(a[1].startswith("cli") for a in actions[3:])
    assert key["key"] not in str(listed)  # never the secret

    import json

    from_cli = json.loads(gateway.cli("audit", "--org", "audited", "--json").stdout)
    assert [e["id"] for e in from_cli["data"]] == [e["id"] for e in listed["data"]]
