"""Changes made in the console are the admin operations' changes: same checks, same audit entries."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest

from tests.support.services import Gateway, Upstream, make_gateway, remote_backend

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def console(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = make_gateway(
        tmp_path_factory.mktemp("console-changes"), [remote_backend("pool-a", upstream.url, "bench-model")]
    )
    gw.start()
    gw.cli("orgs", "create", "toss-test")
    yield gw
    gw.stop()


@pytest.fixture
def client(console: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=console.base_url) as c:
        assert c.post("/dashboard/login", data={"token": console.admin_token}).status_code == 303
        yield c


def csrf(client: httpx.Client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


def limits_form(token: str, **values: str) -> dict[str, str]:
    fields = ("rpm", "tpm", "max_concurrent", "monthly_tokens", "monthly_budget_krw")
    return {"csrf": token, **{name: values.get(name, "") for name in fields}, "tier": values.get("tier", "")}


def test_limits_set_in_the_console_are_the_organisations_limits(
    console: Gateway, client: httpx.Client
) -> None:
    token = csrf(client, "/dashboard/orgs/toss-test")
    form = limits_form(token, rpm="600", monthly_budget_krw="5000000", tier="priority")
    response = client.post("/dashboard/orgs/toss-test/limits", data=form)
    assert response.status_code == 303 and response.headers["location"].endswith("done=limits_saved")
    shown = json.loads(console.cli("limits", "show", "--org", "toss-test", "--json").stdout)
    assert shown["limits"]["rpm"] == 600 and shown["limits"]["monthly_budget_krw"] == 5_000_000
    assert shown["limits"]["tier"] == "priority"
    entries = json.loads(console.cli("audit", "list", "--org", "toss-test", "--json").stdout)["data"]
    assert any(e["action"] == "limits.set" and e["actor"] == "operator:admin" for e in entries)
    page = client.get("/dashboard/orgs").text
    assert "₩5,000,000" in page  # the budget, against this month's use


def test_a_key_limit_above_its_organisations_is_refused_with_the_reason(
    console: Gateway, client: httpx.Client
) -> None:
    key_id, _ = console.create_key("toss-test")
    token = csrf(client, f"/dashboard/keys/{key_id}")
    client.post("/dashboard/orgs/toss-test/limits", data=limits_form(token, rpm="100"))
    refused = client.post(f"/dashboard/keys/{key_id}/limits", data=limits_form(token, rpm="1000"))
    assert refused.status_code == 400
    assert "rpm" in refused.text
    accepted = client.post(f"/dashboard/keys/{key_id}/limits", data=limits_form(token, rpm="10"))
    assert accepted.status_code == 303
    page = client.get(f"/dashboard/keys/{key_id}").text
    assert re.search(
        r"<td class=\"num\">10</td>\s*<td class=\"num\">100</td>\s*<td class=\"num\">10</td>", page
    )


def test_a_policy_set_in_the_console_is_in_force(console: Gateway, client: httpx.Client) -> None:
    token = csrf(client, "/dashboard/orgs/toss-test")
    form = {
        "csrf": token,
        "jurisdictions": "KR",
        "pii": "redact",
        "pii_types": ["KR_RRN", "KR_PHONE"],
        "restore": "on",
    }
    assert client.post("/dashboard/orgs/toss-test/policy", data=form).status_code == 303
    shown = json.loads(console.cli("policy", "show", "--org", "toss-test", "--json").stdout)
    assert shown["pii"] == "redact" and shown["restore"] is True and shown["jurisdictions"] == ["KR"]
    assert sorted(shown["pii_types"]) == ["KR_PHONE", "KR_RRN"]
    bad = {"csrf": token, "jurisdictions": "Korea", "pii": "inherit"}
    refused = client.post("/dashboard/orgs/toss-test/policy", data=bad)
    assert refused.status_code == 400 and "Korea" in refused.text


def test_an_unknown_organisation_or_key_is_a_404_page(client: httpx.Client) -> None:
    assert client.get("/dashboard/orgs/no-such-org").status_code == 404
    assert client.get("/dashboard/keys/key_nope").status_code == 404
    assert client.get("/dashboard/invoices/INV-2026-01-999999").status_code == 404
