"""The admin API for limits and prices on a real server: shapes, errors in OpenAI's form, the audit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.services import Gateway, Upstream, make_gateway, remote_backend

LIMIT_NAMES = ("rpm", "tpm", "max_concurrent", "monthly_tokens", "monthly_budget_krw", "tier")


@pytest.fixture(scope="module")
def gw(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp: Path = tmp_path_factory.mktemp("admin-limits")
    gateway = make_gateway(
        tmp,
        [remote_backend("pool-a", upstream.url, "bench-model")],
        extra={"prices": [{"model": "bench-model", "input_krw": 100, "output_krw": 200}]},
    )
    gateway.start()
    gateway.cli("orgs", "create", "acme")
    yield gateway
    gateway.stop()


class Admin:
    def __init__(self, gw: Gateway) -> None:
        self.base = gw.base_url + "/admin/v1"
        self.headers = {"Authorization": f"Bearer {gw.admin_token}"}

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.base + path, headers=self.headers)

    def put(self, path: str, body: Any = None, *, raw: bytes | None = None) -> httpx.Response:
        content = raw if raw is not None else json.dumps(body).encode()
        return httpx.put(self.base + path, content=content, headers=self.headers)


@pytest.fixture(scope="module")
def admin(gw: Gateway) -> Admin:
    return Admin(gw)


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert "Traceback" not in error["message"]
    return error


def test_an_organisations_limits_round_trip(admin: Admin) -> None:
    put = admin.put("/orgs/acme/limits", {"rpm": 600, "monthly_budget_krw": 5_000_000, "tier": "priority"})
    assert put.status_code == 200, put.text
    data = put.json()
    assert (data["object"], data["scope"], data["org"]) == ("limits", "org", "acme")
    assert data["org_id"].startswith("org_") and "key_id" not in data and "effective" not in data
    assert data["limits"] == {
        "rpm": 600,
        "tpm": None,
        "max_concurrent": None,
        "monthly_tokens": None,
        "monthly_budget_krw": 5_000_000,
        "tier": "priority",
    }
    assert admin.get("/orgs/acme/limits").json() == data

    # null clears a field; a field left out keeps its value
    cleared = admin.put("/orgs/acme/limits", {"tier": None}).json()["limits"]
    assert cleared["tier"] is None and cleared["rpm"] == 600


def test_a_keys_limits_and_the_effective_ones(gw: Gateway, admin: Admin) -> None:
    key_id, _ = gw.create_key("acme")
    admin.put("/orgs/acme/limits", {"tpm": 10_000, "tier": "batch"})

    put = admin.put(f"/keys/{key_id}/limits", {"tpm": 5_000, "max_concurrent": 2})
    assert put.status_code == 200, put.text
    data = admin.get(f"/keys/{key_id}/limits").json()

    assert (data["scope"], data["key_id"], data["org"]) == ("key", key_id, "acme")
    assert data["limits"]["tpm"] == 5_000 and data["org_limits"]["tpm"] == 10_000
    assert data["effective"]["tpm"] == 5_000 and data["effective"]["tier"] == "batch"
    assert set(data["effective"]) == set(LIMIT_NAMES)

    above = _error(admin.put(f"/keys/{key_id}/limits", {"tpm": 10_001}), 400)
    assert above["param"] == "tpm" and "10001" in above["message"] and "10000" in above["message"]
    assert _error(admin.put(f"/keys/{key_id}/limits", {"tier": "priority"}), 400)["param"] == "tier"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"rpm": -1}, "rpm"),
        ({"rpm": 1.5}, "rpm"),
        ({"rpm": "60"}, "rpm"),
        ({"rpm": True}, "rpm"),
        ({"rpm": 10**30}, "rpm"),
        ({"tier": "gold"}, "tier"),
        ({"burst": 5}, "burst"),
    ],
)
def test_bad_limits_are_400_naming_the_field(admin: Admin, body: dict[str, Any], param: str) -> None:
    assert _error(admin.put("/orgs/acme/limits", body), 400)["param"] == param


def test_bad_bodies_and_unknown_subjects(admin: Admin) -> None:
    _error(admin.put("/orgs/acme/limits", raw=b"{not json"), 400)
    _error(admin.put("/orgs/acme/limits", [1, 2]), 400)
    assert _error(admin.get("/orgs/nobody/limits"), 404)["param"] == "org"
    assert _error(admin.put("/keys/key_nope/limits", {"rpm": 1}), 404)["param"] == "key_id"
    assert _error(httpx.delete(admin.base + "/orgs/acme/limits", headers=admin.headers), 405)
    assert httpx.get(admin.base + "/orgs/acme/limits").status_code == 401


def test_prices_merge_config_and_store(admin: Admin) -> None:
    listed = admin.get("/prices").json()
    assert listed["object"] == "list"
    assert [(p["model"], p["source"], p["input_krw"]) for p in listed["data"]] == [
        ("bench-model", "config", 100)
    ]

    one = admin.put(
        "/prices",
        {"model": "bench-model", "input_krw": 150.5, "output_krw": "300", "effective_from": "2000-01-01"},
    )
    assert one.status_code == 200, one.text
    several = admin.put(
        "/prices",
        [
            {"model": "other-model", "input_krw": 1, "output_krw": 2, "cached_input_krw": 0.5},
            {"model": "other-model", "input_krw": 3, "output_krw": 4, "effective_from": "2999-01-01"},
        ],
    )
    assert several.status_code == 200, several.text

    data = several.json()["data"]
    assert [(p["model"], p["source"], p["input_krw"], p["in_force"]) for p in data] == [
        ("bench-model", "store", 150.5, True),  # the stored price replaced the config's, same day
        ("other-model", "store", 1, True),
        ("other-model", "store", 3, False),
    ]
    assert data[1]["cached_input_krw"] == 0.5 and data[0]["cached_input_krw"] is None
    assert set(data[0]) == {
        "object",
        "model",
        "effective_from",
        "input_krw",
        "cached_input_krw",
        "output_krw",
        "source",
        "in_force",
    }


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "m", "output_krw": 1}, "input_krw"),
        ({"model": "m", "input_krw": -1, "output_krw": 1}, "input_krw"),
        ({"model": "m", "input_krw": 1, "output_krw": "lots"}, "output_krw"),
        ({"model": "m", "input_krw": 1, "output_krw": 1, "effective_from": "tomorrow"}, "effective_from"),
        ({"model": "m", "input_krw": 1, "output_krw": 1, "input": 5}, "input"),
        ({"model": "bad model", "input_krw": 1, "output_krw": 1}, "model"),
    ],
)
def test_bad_prices_are_400_naming_the_field(admin: Admin, body: dict[str, Any], param: str) -> None:
    assert _error(admin.put("/prices", body), 400)["param"] == param


def test_a_list_with_one_bad_price_stores_none(admin: Admin) -> None:
    before = admin.get("/prices").json()
    response = admin.put(
        "/prices",
        [
            {"model": "fresh-model", "input_krw": 1, "output_krw": 1},
            {"model": "fresh-model", "input_krw": -1},
        ],
    )
    _error(response, 400)
    _error(admin.put("/prices", []), 400)
    _error(admin.put("/prices", raw=b"nope"), 400)
    assert admin.get("/prices").json() == before


def test_changes_are_audited_under_the_operators_name(admin: Admin) -> None:
    admin.put("/orgs/acme/limits", {"max_concurrent": 7})
    admin.put("/prices", {"model": "audited-model", "input_krw": 1, "output_krw": 1})

    entries = admin.get("/audit?limit=50").json()["data"]
    actions = {(e["action"], e["actor"]) for e in entries}

    assert ("limits.set", "operator:admin") in actions and ("prices.set", "operator:admin") in actions
    limit_entry = next(e for e in entries if e["action"] == "limits.set")
    assert limit_entry["detail"]["changes"]["max_concurrent"]["to"] == 7


def test_usage_carries_cost_fields(admin: Admin) -> None:
    usage = admin.get("/usage?org=acme")
    assert usage.status_code == 200, usage.text
    assert {"cost_krw", "cost_micro_krw"} <= set(usage.json())


def test_a_limit_set_through_the_api_binds_on_this_replica_at_once(gw: Gateway, admin: Admin) -> None:
    gw.cli("orgs", "create", "tight")
    key_id, key = gw.create_key("tight")
    assert admin.put(f"/keys/{key_id}/limits", {"rpm": 1}).status_code == 200
    body = {"model": "bench-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
    headers = {"Authorization": f"Bearer {key}"}

    first = httpx.post(gw.v1 + "/chat/completions", json=body, headers=headers)
    second = httpx.post(gw.v1 + "/chat/completions", json=body, headers=headers)

    assert first.status_code == 200, first.text
    assert _error(second, 429)["code"] == "rate_limit_exceeded"
