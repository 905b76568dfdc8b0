"""Sovereignty through the admin API of a real ``onshore serve``: policies round-trip, a key wider
than its organisation is refused, a change binds at once, and the residency report matches the ledger
row for row."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from onshore.domain.usage import UsageRecord
from onshore.store.sql import SqlUsageStore, make_engine
from tests.support.services import Gateway, Upstream, make_gateway, remote_backend

CHAT = {"model": "bench-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}


@pytest.fixture(scope="module")
def gw(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp: Path = tmp_path_factory.mktemp("admin-policy")
    gateway = make_gateway(
        tmp,
        [
            remote_backend("pool-kr", upstream.url, "bench-model", jurisdiction="KR", operator="NIA"),
            remote_backend("pool-jp", upstream.url, "jp-model", jurisdiction="JP"),
        ],
        extra={"prices": [{"model": "bench-model", "input_krw": 100, "output_krw": 200}]},
    )
    gateway.start()
    yield gateway
    gateway.stop()


class Admin:
    def __init__(self, gw: Gateway) -> None:
        self.base = gw.base_url + "/admin/v1"
        self.headers = {"Authorization": f"Bearer {gw.admin_token}"}

    def get(self, path: str, **params: str) -> httpx.Response:
        return httpx.get(self.base + path, headers=self.headers, params=params)

    def put(self, path: str, body: Any = None, *, raw: bytes | None = None) -> httpx.Response:
        content = raw if raw is not None else json.dumps(body).encode()
        return httpx.put(self.base + path, content=content, headers=self.headers)

    def post(self, path: str, body: Any) -> httpx.Response:
        return httpx.post(self.base + path, json=body, headers=self.headers)


@pytest.fixture(scope="module")
def admin(gw: Gateway) -> Admin:
    return Admin(gw)


@pytest.fixture(scope="module")
def plain_org(admin: Admin) -> str:
    _new_org(admin, "daegu", None)
    return "daegu"


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert "Traceback" not in error["message"]
    return error


def _new_org(admin: Admin, name: str, jurisdictions: list[str] | None) -> dict[str, Any]:
    created = admin.post("/orgs", {"name": name, "jurisdictions": jurisdictions})
    assert created.status_code == 201, created.text
    data: dict[str, Any] = created.json()
    return data


def _new_key(gw: Gateway, admin: Admin, org: str, jurisdictions: list[str] | None = None) -> tuple[str, str]:
    created = admin.post("/keys", {"org": org, "jurisdictions": jurisdictions})
    assert created.status_code == 201, created.text
    data = created.json()
    assert data["jurisdictions"] == jurisdictions
    gw.wait_key_accepted(data["key"])
    return data["id"], data["key"]


def _chat(gw: Gateway, key: str, model: str = "bench-model") -> httpx.Response:
    body = {**CHAT, "model": model}
    return httpx.post(gw.v1 + "/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})


def test_put_then_get_returns_the_policy(gw: Gateway, admin: Admin) -> None:
    org = _new_org(admin, "seoul", ["kr", "JP"])
    assert org["jurisdictions"] == ["JP", "KR"] and org["object"] == "organisation"
    key_id, _ = _new_key(gw, admin, "seoul", ["JP"])

    put = admin.put("/orgs/seoul/policy", {"pii": "redact", "pii_types": ["KR_RRN"], "restore": True})
    assert put.status_code == 200, put.text
    assert admin.get("/orgs/seoul/policy").json() == put.json()
    data = put.json()
    assert (data["object"], data["scope"], data["org"], data["key_id"]) == ("policy", "org", "seoul", None)
    assert data["effective"] == {
        "jurisdictions": ["JP", "KR"],
        "pii": "redact",
        "pii_types": ["KR_RRN"],
        "restore": True,
        "redact_output": False,
    }

    key = admin.put(f"/keys/{key_id}/policy", {"pii": "block", "redact_output": True})
    assert key.status_code == 200, key.text
    got = admin.get(f"/keys/{key_id}/policy").json()
    assert got == key.json()
    assert got["jurisdictions"] == ["JP"] and got["org_policy"]["pii"] == "redact"
    assert got["effective"]["jurisdictions"] == ["JP"] and got["effective"]["pii"] == "block"

    # null clears a field; a field left out keeps its value
    cleared = admin.put(f"/keys/{key_id}/policy", {"redact_output": None}).json()
    assert cleared["redact_output"] is None and cleared["pii"] == "block"

    trail = admin.get("/audit", org="seoul").json()["data"]
    actions = [e["action"] for e in trail]
    assert actions.count("policy.set") == 2 and actions.count("policy.clear") == 1
    assert "org.create" in actions and "key.create" in actions
    org_entry = next(e for e in trail if e["action"] == "policy.set" and e["target_type"] == "organisation")
    assert org_entry["actor"] == "operator:admin"
    assert org_entry["detail"]["before"]["pii"] is None and org_entry["detail"]["after"]["pii"] == "redact"


def test_a_key_wider_than_its_organisation_is_refused(gw: Gateway, admin: Admin) -> None:
    _new_org(admin, "busan", ["KR"])
    error = _error(admin.post("/keys", {"org": "busan", "jurisdictions": ["KR", "JP"]}), 400)
    assert error["param"] == "jurisdictions" and "JP,KR" in error["message"] and "KR" in error["message"]
    assert "busan" in error["message"]

    key_id, _ = _new_key(gw, admin, "busan")
    error = _error(admin.put(f"/keys/{key_id}/policy", {"jurisdictions": ["US"]}), 400)
    assert "US" in error["message"] and "KR" in error["message"]
    assert admin.get(f"/keys/{key_id}/policy").json()["jurisdictions"] is None


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"pii": "scrub"}, "pii"),
        ({"pii": "detect", "pii_types": ["KR_NOPE"]}, "pii_types"),
        ({"pii": "block", "restore": True}, "restore"),
        ({"restore": True}, "restore"),
        ({"redact_output": "yes"}, "redact_output"),
        ({"jurisdictions": ["Korea"]}, "jurisdictions"),
        ({"jurisdictions": []}, "jurisdictions"),
        ({"residency": "KR"}, "residency"),
    ],
)
def test_bad_policies_are_400_naming_the_field(
    admin: Admin, plain_org: str, body: dict[str, Any], param: str
) -> None:
    assert _error(admin.put(f"/orgs/{plain_org}/policy", body), 400)["param"] == param
    assert admin.get(f"/orgs/{plain_org}/policy").json()["pii"] is None  # nothing written


def test_bad_bodies_and_unknown_subjects(admin: Admin, plain_org: str) -> None:
    _error(admin.put(f"/orgs/{plain_org}/policy", raw=b"{not json"), 400)
    _error(admin.put(f"/orgs/{plain_org}/policy", [1, 2]), 400)
    _error(admin.put(f"/orgs/{plain_org}/policy", {}), 400)
    assert _error(admin.post("/orgs", {"name": "x1", "jurisdictions": "K"}), 400)["param"] == "jurisdictions"
    assert _error(admin.post("/orgs", {"name": "x2", "jurisdictions": [1]}), 400)["param"] == "jurisdictions"
    assert _error(admin.get("/orgs/nobody/policy"), 404)["param"] == "org"
    assert _error(admin.put("/keys/key_nope/policy", {"pii": "off"}), 404)["param"] == "key_id"
    assert _error(httpx.delete(admin.base + f"/orgs/{plain_org}/policy", headers=admin.headers), 405)
    assert httpx.get(admin.base + f"/orgs/{plain_org}/policy").status_code == 401
    assert _error(admin.get("/residency"), 400)["param"] == "org"
    assert _error(admin.get("/residency", org=plain_org, month="2026-13"), 400)["param"] == "month"
    assert _error(admin.get("/residency", org="nobody"), 404)["param"] == "org"


def test_a_narrowed_key_is_refused_at_once(gw: Gateway, admin: Admin) -> None:
    _new_org(admin, "incheon", ["KR", "JP"])
    key_id, key = _new_key(gw, admin, "incheon")
    assert _chat(gw, key).status_code == 200

    assert admin.put(f"/keys/{key_id}/policy", {"jurisdictions": ["JP"]}).status_code == 200
    refused = _chat(gw, key)  # no wait: the admin API reloads this replica before it answers
    assert _error(refused, 403)["code"] == "residency_unavailable"
    assert _chat(gw, key, "jp-model").status_code == 200


def _ledger_rows(gw: Gateway, org_id: str, count: int, start: datetime, end: datetime) -> list[UsageRecord]:
    engine = make_engine(f"sqlite:///{gw.data_dir / 'onshore.db'}")
    try:
        ledger = SqlUsageStore(engine)
        deadline = time.monotonic() + 20
        while True:
            rows = ledger.records(start, end, org_id=org_id)
            if len(rows) >= count or time.monotonic() > deadline:
                return rows
            time.sleep(0.1)
    finally:
        engine.dispose()


def test_the_residency_report_matches_the_ledger(gw: Gateway, admin: Admin) -> None:
    org_id = _new_org(admin, "gwangju", ["KR"])["id"]
    _, key = _new_key(gw, admin, "gwangju")
    statuses = [_chat(gw, key).status_code for _ in range(3)] + [_chat(gw, key, "jp-model").status_code]
    assert statuses == [200, 200, 200, 403]

    now = datetime.now(UTC)
    month = f"{now:%Y-%m}"
    start = datetime(now.year, now.month, 1, tzinfo=UTC)
    end = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
    rows = _ledger_rows(gw, org_id, 4, start, end)
    assert len(rows) == 4

    report = admin.get("/residency", org="gwangju", month=month)
    assert report.status_code == 200, report.text
    data = report.json()
    assert (data["object"], data["org"], data["org_id"]) == ("residency.report", "gwangju", org_id)
    assert data["jurisdictions"] == ["KR"]

    # Row for row: every ledger row of the organisation counts once, where the ledger says it went.
    served = [r for r in rows if r.backend is not None]
    assert data["requests"] == len(rows) == data["served_requests"] + data["not_routed_requests"]
    assert [(s["jurisdiction"], s["backend"], s["requests"], s["total_tokens"]) for s in data["served"]] == [
        ("KR", "pool-kr", 3, sum(r.total_tokens for r in served))
    ]
    assert data["served"][0]["cost_micro_krw"] == sum(r.cost_micro_krw or 0 for r in served)
    assert data["total_tokens"] == sum(r.total_tokens for r in rows) > 0
    refusals = Counter((r.status, r.error_code) for r in rows if r.error_code == "residency_unavailable")
    assert data["refusals"] == [
        {"status": s, "error_code": c, "requests": n} for (s, c), n in sorted(refusals.items())
    ]
    assert data["refusals"] == [{"status": 403, "error_code": "residency_unavailable", "requests": 1}]

    code = gw.cli("residency", "report", "--org", "gwangju", "--month", month, "--json").stdout
    assert json.loads(code) == data  # the CLI reads the same ledger the same way
