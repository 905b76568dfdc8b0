"""An invoice as JSON (the documented shape), CSV (adds up, no formulas) and printable, escaped,
self-contained HTML in Korean and English."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import jsonschema_rs
import pytest

from onshore.admin.invoice_render import invoice_json, invoice_status, render_csv, render_html
from onshore.api.openapi import document
from onshore.domain.invoice import Invoice, Issuer, Month, UsageDay, build_invoice
from onshore.domain.limits import Price, PriceBook

NOV = Month(2026, 11)
BOOK = PriceBook(
    [
        Price("chat", date(2026, 1, 1), Decimal("1234.5"), Decimal("2345.678901"), Decimal("100.25")),
        Price("chat", date(2026, 11, 16), Decimal(1500), Decimal(3000)),
    ]
)


def _invoice(org_name: str = "<acme & co>", **issuer: str) -> Invoice:
    days = [
        UsageDay("chat", date(2026, 11, 3), 10, 1000, 200, 500, 2_573_456_789),
        UsageDay("chat", date(2026, 11, 20), 5, 100_000, 0, 50_000, 300_000_600_000),
        UsageDay("=cmd", date(2026, 11, 21), 1, 1, 0, 1, 700_000),
    ]
    return build_invoice(
        org_id="org_1",
        org_name=org_name,
        month=NOV,
        days=days,
        book=BOOK,
        issued_at=datetime(2026, 12, 2, 9, tzinfo=UTC),
        issued_by="cli:ops",
        issuer=Issuer(**issuer),
    )


def _schema_validator(name: str) -> Any:
    doc = document()
    return jsonschema_rs.validator_for(
        {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
    )


def test_json_matches_the_documented_schema_and_adds_up() -> None:
    invoice = _invoice(name="Onshore DC")
    data = invoice_json(invoice)

    _schema_validator("Invoice").validate(data)
    assert data["status"] == "preview" and data["id"] is None
    assert data["subtotal_krw"] == 302_574  # floor(2,573.456789 + 300,000.6 + 0.7 = 302,574.756789)
    assert data["vat_krw"] == 30_257
    assert data["total_krw"] == 332_831
    assert sum(line["amount_krw"] for line in data["lines"]) + data["adjustment_krw"] == data["subtotal_krw"]
    assert data["adjustment_krw"] == 1  # 2,573.456789 + 300,000.6 + 0.7: the lines show 302,573
    assert data["ledger_micro_krw"] == sum(line["amount_micro_krw"] for line in data["lines"])
    assert data["issuer"] == {"name": "Onshore DC"}
    assert data["lines"][1]["cached_input_price_krw"] == 100.25  # [0] is "=cmd", unpriced


def test_csv_adds_up_and_never_starts_a_cell_with_a_formula() -> None:
    invoice = _invoice(org_name="+acme")
    rows = list(csv.DictReader(io.StringIO(render_csv(invoice))))

    kinds = [row["kind"] for row in rows]
    assert kinds == ["line", "line", "line", "adjustment", "subtotal", "vat", "total"]
    by_kind = {row["kind"]: row for row in rows}
    lines = sum(int(row["amount_krw"]) for row in rows if row["kind"] in ("line", "adjustment"))
    assert lines == int(by_kind["subtotal"]["amount_krw"]) == invoice.totals.subtotal_krw
    assert int(by_kind["subtotal"]["amount_krw"]) + int(by_kind["vat"]["amount_krw"]) == int(
        by_kind["total"]["amount_krw"]
    )
    assert {row["org"] for row in rows} == {"'+acme"}
    assert rows[0]["model"] == "'=cmd"  # sorted first; quoted so a spreadsheet keeps it text


def test_html_is_self_contained_escaped_and_prints_on_a4_in_korean() -> None:
    invoice = _invoice(name="온쇼어 데이터센터", business_registration_number="123-45-67890")
    html = render_html(invoice, "ko")

    assert "@page" in html and "size: A4" in html
    assert not re.search(r"<(script|link|img|iframe)\b|url\(|https?://", html)
    assert "&lt;acme &amp; co&gt;" in html and "<acme" not in html
    assert '<html lang="ko">' in html
    assert "청구서" in html and "2026년 11월" in html
    assert "₩302,574" in html and "₩30,257" in html and "₩332,831" in html
    assert "부가가치세 (10%)" in html and "123-45-67890" in html
    assert "미리보기" in html  # a preview says it is not issued


def test_html_in_english_and_the_status_of_a_superseded_invoice() -> None:
    invoice = _invoice()
    issued = replace(invoice, id="INV-2026-11-000001", superseded_by="INV-2026-11-000002")
    html = render_html(issued, "en")

    assert invoice_status(issued) == "superseded"
    assert '<html lang="en">' in html and "November 2026" in html
    assert "Superseded by: INV-2026-11-000002" in html and "INV-2026-11-000001" in html
    assert "₩332,831" in html and "VAT (10%)" in html
    with pytest.raises(ValueError, match="lang"):
        render_html(invoice, "fr")


def test_a_month_without_usage_renders() -> None:
    empty = build_invoice(
        org_id="o",
        org_name="quiet",
        month=NOV,
        days=[],
        book=BOOK,
        issued_at=datetime(2026, 12, 2, tzinfo=UTC),
        issued_by="x",
    )
    assert "No usage in this period." in render_html(empty, "en")
    assert invoice_json(empty)["total_krw"] == 0
    assert [row[3] for row in csv.reader(io.StringIO(render_csv(empty)))][1:] == [
        "adjustment",
        "subtotal",
        "vat",
        "total",
    ]
