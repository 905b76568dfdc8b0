"""Invoices through the admin API of a real ``onshore serve``: a metered request shows in the preview
of the current month to the micro-won, a past month with a price change in the middle is issued with
totals equal to the ledger to the won, a second issue is 409, a correction supersedes, and the HTML
and CSV forms come back with their content types."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from onshore.domain.limits import Price, PriceBook
from onshore.domain.usage import UsageRecord
from onshore.store.sql import SqlUsageStore, make_engine
from tests.support.services import Gateway, Upstream, make_gateway, remote_backend

PRICES = [
    {
        "model": "bench-model",
        "input_krw": "1234.5",
        "output_krw": "2345.678901",
        "effective_from": "2025-01-01",
    },
    {"model": "bench-model", "input_krw": 1500, "output_krw": 3000, "effective_from": "2025-11-16"},
]
BOOK = PriceBook(
    [
        Price("bench-model", datetime(2025, 1, 1).date(), Decimal("1234.5"), Decimal("2345.678901")),
        Price("bench-model", datetime(2025, 11, 16).date(), Decimal(1500), Decimal(3000)),
    ]
)


@pytest.fixture(scope="module")
def gw(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp: Path = tmp_path_factory.mktemp("admin-invoices")
    gateway = make_gateway(
        tmp,
        [remote_backend("pool-kr", upstream.url, "bench-model", jurisdiction="KR")],
        extra={"prices": PRICES, "billing": {"issuer_name": "Onshore DC", "vat_rate": "0.1"}},
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

    def post(self, path: str, body: Any) -> httpx.Response:
        return httpx.post(self.base + path, json=body, headers=self.headers)


@pytest.fixture(scope="module")
def admin(gw: Gateway) -> Admin:
    return Admin(gw)


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


def _org(admin: Admin, name: str) -> str:
    created = admin.post("/orgs", {"name": name})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _ledger(gw: Gateway) -> SqlUsageStore:
    return SqlUsageStore(make_engine(f"sqlite:///{gw.data_dir / 'onshore.db'}"))


def _row(n: int, org_id: str, at: datetime) -> UsageRecord:
    prompt, completion = 1000 + 37 * n, 17 * n
    return UsageRecord(
        request_id=f"{org_id}-{n}",
        created_at=at,
        org_id=org_id,
        key_id="key",
        endpoint="chat.completions",
        model="bench-model",
        backend="pool-kr",
        status=200,
        streamed=False,
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        cost_micro_krw=BOOK.cost_micro_krw("bench-model", at.date(), prompt, completion),
    )


def test_a_metered_request_shows_in_the_preview_of_this_month(gw: Gateway, admin: Admin) -> None:
    org_id = _org(admin, "busan")
    created = admin.post("/keys", {"org": "busan"})
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    gw.wait_key_accepted(key)
    chat = {"model": "bench-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
    answer = httpx.post(gw.v1 + "/chat/completions", json=chat, headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200, answer.text

    now = datetime.now(UTC)
    month = f"{now:%Y-%m}"
    start = datetime(now.year, now.month, 1, tzinfo=UTC)
    ledger = _ledger(gw)
    deadline = time.monotonic() + 20
    while (
        not (rows := ledger.records(start, now + timedelta(days=1), org_id=org_id))
        and time.monotonic() < deadline
    ):
        time.sleep(0.1)
    assert len(rows) == 1 and (rows[0].cost_micro_krw or 0) > 0

    preview = admin.post("/invoices", {"org": "busan", "month": month, "preview": True})
    assert preview.status_code == 200, preview.text
    data = preview.json()
    assert (data["status"], data["id"]) == ("preview", None)
    assert data["ledger_micro_krw"] == rows[0].cost_micro_krw
    assert data["lines"][0]["input_tokens"] == rows[0].prompt_tokens
    # This month is not over: it cannot be issued yet.
    assert (
        _error(admin.post("/invoices", {"org": "busan", "month": month}), 400)["code"] == "month_not_closed"
    )
    assert admin.get("/invoices", org="busan").json()["data"] == []


def test_issue_refuse_correct_and_read_a_past_month(gw: Gateway, admin: Admin) -> None:
    org_id = _org(admin, "ulsan")
    other_id = _org(admin, "jeju")
    rows = [_row(n, org_id, datetime(2025, 11, 1, tzinfo=UTC) + timedelta(hours=7 * n)) for n in range(100)]
    rows += [_row(n, other_id, datetime(2025, 11, 20, tzinfo=UTC)) for n in range(3)]
    ledger = _ledger(gw)
    ledger.write_batch(rows)
    exact = sum(r.cost_micro_krw or 0 for r in rows if r.org_id == org_id)

    issued = admin.post("/invoices", {"org": "ulsan", "month": "2025-11"})
    assert issued.status_code == 201, issued.text
    invoice = issued.json()
    number = invoice["id"]
    assert number.startswith("INV-2025-11-") and invoice["status"] == "issued"
    assert invoice["ledger_micro_krw"] == exact
    assert invoice["subtotal_krw"] == exact // 1_000_000
    assert invoice["vat_krw"] == invoice["subtotal_krw"] // 10
    assert invoice["total_krw"] == invoice["subtotal_krw"] + invoice["vat_krw"]
    assert [(ln["period_start"], ln["period_end"]) for ln in invoice["lines"]] == [
        ("2025-11-01", "2025-11-15"),
        ("2025-11-16", "2025-11-30"),
    ]
    assert invoice["issuer"] == {"name": "Onshore DC"}

    again = _error(admin.post("/invoices", {"org": "ulsan", "month": "2025-11"}), 409)
    assert again["code"] == "invoice_exists" and number in again["message"]

    ledger.write_batch([_row(500, org_id, datetime(2025, 11, 30, 23, tzinfo=UTC))])  # a late row
    fixed = admin.post("/invoices", {"org": "ulsan", "month": "2025-11", "corrects": number})
    assert fixed.status_code == 201, fixed.text
    correction = fixed.json()
    assert (correction["corrects"], correction["revision"]) == (number, 1)
    assert correction["ledger_micro_krw"] > exact
    old = admin.get(f"/invoices/{number}").json()
    assert old["superseded_by"] == correction["id"] and old["status"] == "superseded"
    assert {k: v for k, v in old.items() if k not in ("status", "superseded_by")} == {
        k: v for k, v in invoice.items() if k not in ("status", "superseded_by")
    }
    superseded = _error(
        admin.post("/invoices", {"org": "ulsan", "month": "2025-11", "corrects": number}), 409
    )
    assert superseded["code"] == "invoice_superseded"

    listed = admin.get("/invoices", org="ulsan").json()
    assert [i["id"] for i in listed["data"]] == [correction["id"], number]
    assert all(i["org_id"] == org_id for i in admin.get("/invoices").json()["data"])

    html = admin.get(f"/invoices/{number}", format="html", lang="en")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "November 2025" in html.text and f"₩{invoice['total_krw']:,}" in html.text
    table = admin.get(f"/invoices/{number}", format="csv")
    assert table.headers["content-type"].startswith("text/csv")
    assert [r["kind"] for r in csv.DictReader(io.StringIO(table.text))][-1] == "total"

    # The CLI reads the same invoice the same way.
    shown = json.loads(gw.cli("invoices", "show", number).stdout)
    assert shown == old
    trail = admin.get("/audit", org="ulsan").json()["data"]
    assert [e["target_id"] for e in trail if e["action"] == "invoices.create"] == [correction["id"], number]


def test_bad_requests(admin: Admin) -> None:
    _org(admin, "daejeon")
    assert _error(admin.post("/invoices", {"org": "daejeon"}), 400)["param"] == "month"
    assert _error(admin.post("/invoices", {"org": "daejeon", "month": "2025-13"}), 400)["param"] == "month"
    assert (
        _error(admin.post("/invoices", {"org": "daejeon", "month": "2025-11", "x": 1}), 400)["param"] == "x"
    )
    assert _error(admin.post("/invoices", {"org": "nobody", "month": "2025-11"}), 404)["param"] == "org"
    missing = admin.post(
        "/invoices", {"org": "daejeon", "month": "2025-11", "corrects": "INV-1999-01-000001"}
    )
    assert _error(missing, 404)["code"] == "invoice_not_found"
    assert _error(admin.get("/invoices/INV-1999-01-000001"), 404)["code"] == "invoice_not_found"
    assert _error(admin.get("/invoices", org="nobody"), 404)["param"] == "org"
    assert _error(admin.get("/invoices/INV-1999-01-000001", format="pdf"), 400)["param"] == "format"
    assert httpx.get(admin.base + "/invoices").status_code == 401
