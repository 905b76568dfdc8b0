"""Operators against a real `onshore serve`: roles, grants, expiry, revocation, the audit trail
under each operator's name, the console, and a key-digest secret rotation across restarts."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.services import Gateway, Upstream, make_gateway, remote_backend

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gw(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gateway = make_gateway(
        tmp_path_factory.mktemp("operators"), [remote_backend("pool-a", upstream.url, "bench-model")]
    )
    gateway.start()
    gateway.cli("orgs", "create", "acme")
    yield gateway
    gateway.stop()


def _operator(gw: Gateway, name: str, role: str, *extra: str) -> str:
    created = json.loads(gw.cli("operators", "create", name, "--role", role, "--json", *extra).stdout)
    token = created["token"]
    assert isinstance(token, str) and token.startswith("onshore-op-")
    return token


def _call(gw: Gateway, token: str, method: str, path: str, body: Any = None) -> httpx.Response:
    return httpx.request(
        method, gw.base_url + "/admin/v1" + path, json=body, headers={"Authorization": f"Bearer {token}"}
    )


def _refused(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


def test_an_auditor_reads_but_cannot_change_anything(gw: Gateway) -> None:
    token = _operator(gw, "alice", "auditor")
    error = _refused(_call(gw, token, "POST", "/keys", {"org": "acme"}), 403)
    assert error["code"] == "permission_denied" and "keys:write" in error["message"]
    assert error["type"] == "permission_error"
    error = _refused(_call(gw, token, "PUT", "/orgs/acme/limits", {"rpm": 1}), 403)
    assert "limits:write" in error["message"]
    _refused(_call(gw, token, "POST", "/operators", {"name": "x", "role": "admin"}), 403)
    for path in ("/audit", "/orgs", "/keys", "/orgs/acme/limits", "/orgs/acme/policy", "/usage?org=acme"):
        assert _call(gw, token, "GET", path).status_code == 200, path
    assert _call(gw, token, "GET", "/residency?org=acme").status_code == 200


def test_billing_sets_prices_and_lists_invoices_but_reads_the_audit_only_when_granted(gw: Gateway) -> None:
    token = _operator(gw, "bea", "billing")
    put = _call(gw, token, "PUT", "/prices", {"model": "bench-model", "input_krw": 10, "output_krw": 20})
    assert put.status_code == 200, put.text
    assert _call(gw, token, "GET", "/invoices").status_code == 200
    assert _call(gw, token, "GET", "/orgs").status_code == 200
    assert "audit:read" in _refused(_call(gw, token, "GET", "/audit"), 403)["message"]
    _refused(_call(gw, token, "POST", "/orgs", {"name": "nope"}), 403)
    granted = _operator(gw, "bea-audit", "billing", "--grant", "audit:read")
    assert _call(gw, granted, "GET", "/audit").status_code == 200


def test_expired_and_revoked_tokens_get_401(gw: Gateway) -> None:
    expiring = _operator(gw, "carl", "admin", "--expires-in", "1s")
    time.sleep(1.2)
    assert _refused(_call(gw, expiring, "GET", "/orgs"), 401)["code"] == "invalid_admin_token"

    token = _operator(gw, "dora", "admin")
    assert _call(gw, token, "GET", "/orgs").status_code == 200
    gw.cli("operators", "revoke", "dora")  # the CLI, not this server: only the cache's second stands
    deadline = time.monotonic() + 3.0
    while _call(gw, token, "GET", "/orgs").status_code == 200:
        assert time.monotonic() < deadline, "a revoked operator token still works"
        time.sleep(0.1)
    _refused(_call(gw, token, "GET", "/orgs"), 401)


def test_operators_are_managed_through_the_admin_api_by_admins_only(gw: Gateway) -> None:
    made = _call(gw, gw.admin_token, "POST", "/operators", {"name": "ops-bot", "role": "admin"})
    assert made.status_code == 201, made.text
    bot = made.json()["token"]
    auditor = _call(gw, bot, "POST", "/operators", {"name": "erin", "role": "auditor", "expires_in": "90d"})
    assert auditor.status_code == 201 and auditor.json()["tokens"][0]["expires_at"] is not None
    erin = auditor.json()["token"]
    assert _call(gw, erin, "GET", "/orgs").status_code == 200
    listed = _call(gw, bot, "GET", "/operators").json()["data"]
    assert {"ops-bot", "erin"} <= {o["name"] for o in listed}
    assert bot not in json.dumps(listed) and erin not in json.dumps(listed)
    _refused(_call(gw, erin, "GET", "/operators"), 403)
    second = _call(gw, bot, "POST", "/operators/erin/tokens", {})
    assert second.status_code == 201
    revoked = _call(gw, bot, "POST", "/operators/erin/revoke", {"token": auditor.json()["tokens"][0]["id"]})
    assert revoked.status_code == 200
    _refused(_call(gw, erin, "GET", "/orgs"), 401)  # revoked through this server: at once
    assert _call(gw, second.json()["token"], "GET", "/orgs").status_code == 200
    _refused(_call(gw, bot, "POST", "/operators", {"name": "admin", "role": "admin"}), 400)


def test_every_action_is_audited_under_its_operators_name(gw: Gateway) -> None:
    frank = _operator(gw, "frank", "admin")
    assert _call(gw, frank, "POST", "/orgs", {"name": "frank-org"}).status_code == 201
    assert _call(gw, frank, "PUT", "/orgs/frank-org/limits", {"rpm": 60}).status_code == 200
    key = _call(gw, frank, "POST", "/keys", {"org": "frank-org"}).json()
    assert _call(gw, frank, "POST", f"/keys/{key['id']}/revoke").status_code == 200
    _call(gw, gw.admin_token, "POST", "/operators", {"name": "grace", "role": "auditor"})
    entries = _call(gw, frank, "GET", "/audit?limit=200").json()["data"]
    mine = {(e["action"], e["actor"]) for e in entries}
    for action in ("org.create", "limits.set", "key.create", "key.revoke"):
        assert (action, "operator:frank") in mine, action
    assert ("operator.create", "operator:admin") in mine
    assert ("prices.set", "operator:bea") in mine  # by the billing test, under bea's name
    assert not any(e["actor"] == "admin-api" for e in entries)


def test_an_auditor_in_the_console_sees_read_only_pages(gw: Gateway) -> None:
    token = _operator(gw, "hana", "auditor")
    with httpx.Client(base_url=gw.base_url, follow_redirects=False) as client:
        assert client.post("/dashboard/login", data={"token": token}).status_code == 303
        cookie = client.cookies.get("onshore_console")
        assert cookie is not None and token not in cookie
        orgs = client.get("/dashboard/orgs")
        assert orgs.status_code == 200 and 'action="/dashboard/orgs"' not in orgs.text
        audit = client.get("/dashboard/audit")
        assert audit.status_code == 200
        csrf = re.search(r'name="csrf" value="([^"]+)"', audit.text)
        assert csrf is not None
        refused = client.post("/dashboard/orgs", data={"name": "by-auditor", "csrf": csrf.group(1)})
        assert refused.status_code == 403 and "orgs:write" in refused.text
        assert "by-auditor" not in gw.cli("orgs", "list").stdout
        gw.cli("operators", "revoke", "hana")
        deadline = time.monotonic() + 3.0
        while client.get("/dashboard/orgs").status_code == 200:
            assert time.monotonic() < deadline, "a revoked operator's console session still works"
            time.sleep(0.1)
        assert client.get("/dashboard/orgs").headers["location"] == "/dashboard/login"


def test_billing_in_the_console_cannot_open_the_audit_page(gw: Gateway) -> None:
    token = _operator(gw, "ivan", "billing")
    with httpx.Client(base_url=gw.base_url, follow_redirects=False) as client:
        assert client.post("/dashboard/login", data={"token": token}).status_code == 303
        assert client.get("/dashboard/audit").status_code == 403
        page = client.get("/dashboard/invoices")
        assert page.status_code == 200 and 'href="/dashboard/audit"' not in page.text


def test_keys_survive_a_rotation_of_the_digest_secret(upstream: Upstream, tmp_path: Path) -> None:
    a, b = "secret-a-" + "1" * 32, "secret-b-" + "2" * 32
    gateway = make_gateway(tmp_path, [remote_backend("pool-a", upstream.url, "bench-model")])
    gateway.env["ONSHORE_SECRET"] = a
    gateway.start()
    try:
        _, key = gateway.create_key("rotating")
    finally:
        gateway.stop()

    gateway.env.update({"ONSHORE_SECRET": b, "ONSHORE_PREVIOUS_SECRETS": a})
    gateway.start()
    try:
        assert gateway.wait_key_accepted(key) >= 0
        deadline = time.monotonic() + 5.0
        while not json.loads(gateway.cli("keys", "rehash-status", "--json").stdout)["done"]:
            assert time.monotonic() < deadline, "the key was not re-hashed"
            time.sleep(0.1)
        listed = json.loads(gateway.cli("audit", "list", "--json").stdout)["data"]
        assert [e["action"] for e in listed].count("key.rehashed") == 1
        assert key not in json.dumps(listed)
    finally:
        gateway.stop()

    del gateway.env["ONSHORE_PREVIOUS_SECRETS"]
    gateway.start()
    try:
        assert gateway.wait_key_accepted(key) >= 0
    finally:
        gateway.stop()
