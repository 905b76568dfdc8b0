"""An invoice as JSON, CSV or a self-contained HTML page that prints on A4.

- :func:`invoice_json`: the admin API's and ``--json``'s shape. Whole-won amounts are integers;
  the exact amounts are given twice: as integer micro-won (``*_micro_krw``, exact) and as won
  numbers (six decimal places, for reading).
- :func:`render_csv`: one row per line, then the adjustment, subtotal, VAT and total rows
  (``kind`` says which), so a spreadsheet's sum of ``amount_krw`` over the ``line`` and
  ``adjustment`` rows is the subtotal.
- :func:`render_html`: ``templates/invoice.html`` through Jinja2 (autoescape on: organisation names
  and issuer details are data), in Korean (``lang="ko"``: ₩1,234,567, 2026년 12월) or English,
  numbers and dates formatted by Babel from CLDR. No external asset: it prints the same offline.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any, Literal

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from onshore.admin.prices import krw_number
from onshore.domain.invoice import Invoice, InvoiceLine

Lang = Literal["ko", "en"]
LANGS: tuple[Lang, ...] = ("ko", "en")
FORMATS = ("json", "csv", "html")
_LOCALE: dict[Lang, str] = {"ko": "ko_KR", "en": "en_US"}
_MONTH_PATTERN: dict[Lang, str] = {"ko": "y년 M월", "en": "MMMM y"}

__all__ = ["FORMATS", "LANGS", "invoice_json", "invoice_status", "render_csv", "render_html"]


def invoice_status(invoice: Invoice) -> str:
    """``preview`` (computed, not issued), ``issued``, or ``superseded`` (a correction names it)."""
    if invoice.is_preview:
        return "preview"
    return "issued" if invoice.superseded_by is None else "superseded"


def _number(value: Decimal | None) -> int | float | None:
    return None if value is None else krw_number(value)


def _line_json(number: int, line: InvoiceLine) -> dict[str, Any]:
    return {
        "line": number,
        "model": line.model,
        "period_start": line.period_start.isoformat(),
        "period_end": line.period_end.isoformat(),
        "requests": line.requests,
        "input_tokens": line.input_tokens,
        "cached_input_tokens": line.cached_tokens,
        "output_tokens": line.output_tokens,
        # won per million tokens in force over the period; null when the model had no price
        "input_price_krw": _number(line.input_price_krw),
        "cached_input_price_krw": _number(line.cached_price_krw),
        "output_price_krw": _number(line.output_price_krw),
        "amount_micro_krw": line.amount_micro_krw,
        "exact_amount_krw": krw_number(line.exact_krw),
        "amount_krw": line.amount_krw,
    }


def invoice_json(invoice: Invoice) -> dict[str, Any]:
    """The public JSON shape of an invoice (see the module docstring)."""
    totals = invoice.totals
    return {
        "object": "invoice",
        "id": invoice.id,
        "status": invoice_status(invoice),
        "org": invoice.org_name,
        "org_id": invoice.org_id,
        "month": str(invoice.month),
        "period_start": invoice.month.first_day.isoformat(),
        "period_end": invoice.month.last_day.isoformat(),
        "issued_at": invoice.issued_at.isoformat(),
        "issued_by": invoice.issued_by,
        "revision": invoice.revision,
        "corrects": invoice.corrects,
        "superseded_by": invoice.superseded_by,
        "currency": invoice.currency,
        "issuer": invoice.issuer.as_dict(),
        "lines": [_line_json(n, line) for n, line in enumerate(invoice.lines, start=1)],
        "ledger_micro_krw": totals.ledger_micro_krw,
        "exact_krw": krw_number(totals.exact_krw),
        "adjustment_krw": totals.adjustment_krw,
        "subtotal_krw": totals.subtotal_krw,
        "vat_rate": krw_number(totals.vat_rate),
        "vat_krw": totals.vat_krw,
        "total_krw": totals.total_krw,
    }


_CSV_COLUMNS = (
    "invoice",
    "org",
    "month",
    "kind",
    "line",
    "model",
    "period_start",
    "period_end",
    "requests",
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "input_price_krw",
    "cached_input_price_krw",
    "output_price_krw",
    "amount_micro_krw",
    "amount_krw",
)


def render_csv(invoice: Invoice) -> str:
    """The invoice as CSV (RFC 4180, CRLF line ends); see the module docstring."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_CSV_COLUMNS)
    head = [invoice.id or "preview", _safe_cell(invoice.org_name), str(invoice.month)]
    for number, line in enumerate(invoice.lines, start=1):
        data = _line_json(number, line)
        writer.writerow([*head, "line", *(_cell(data.get(c)) for c in _CSV_COLUMNS[4:])])
    totals = invoice.totals
    blank = [""] * (len(_CSV_COLUMNS) - 6)
    writer.writerow([*head, "adjustment", *blank, "", totals.adjustment_krw])
    writer.writerow([*head, "subtotal", *blank, totals.ledger_micro_krw, totals.subtotal_krw])
    writer.writerow([*head, "vat", *blank, "", totals.vat_krw])
    writer.writerow([*head, "total", *blank, "", totals.total_krw])
    return out.getvalue()


def _cell(value: object) -> object:
    if value is None:
        return ""
    return _safe_cell(value) if isinstance(value, str) else value


def _safe_cell(text: str) -> str:
    # A cell starting with = + - @ is a formula to a spreadsheet (CSV injection); a quote before
    # it keeps the text as text. Model and organisation names cannot start so, but data is data.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# --- HTML ------------------------------------------------------------------------------------------

_LABELS: dict[str, dict[Lang, str]] = {
    "title": {"ko": "청구서", "en": "Invoice"},
    "preview": {"ko": "미리보기 — 발행되지 않음", "en": "Preview — not issued"},
    "superseded": {"ko": "정정됨 — 대체 청구서", "en": "Superseded by"},
    "corrects": {"ko": "정정 대상 청구서", "en": "Corrects invoice"},
    "number": {"ko": "청구서 번호", "en": "Invoice number"},
    "month": {"ko": "청구 기간", "en": "Billing period"},
    "issued_at": {"ko": "발행일", "en": "Issued"},
    "issuer": {"ko": "공급자", "en": "Issuer"},
    "recipient": {"ko": "공급받는 자", "en": "Bill to"},
    "brn": {"ko": "사업자등록번호", "en": "Business registration no."},
    "representative": {"ko": "대표자", "en": "Representative"},
    "address": {"ko": "주소", "en": "Address"},
    "contact": {"ko": "연락처", "en": "Contact"},
    "org_id": {"ko": "조직 ID", "en": "Organisation ID"},
    "model": {"ko": "모델", "en": "Model"},
    "period": {"ko": "적용 기간", "en": "Price period"},
    "requests": {"ko": "요청 수", "en": "Requests"},
    "tokens": {"ko": "토큰", "en": "Tokens"},
    "input": {"ko": "입력", "en": "Input"},
    "cached": {"ko": "캐시 입력", "en": "Cached input"},
    "output": {"ko": "출력", "en": "Output"},
    "unit_price": {"ko": "단가 (100만 토큰당)", "en": "Price per million tokens"},
    "no_price": {"ko": "가격 없음", "en": "No price"},
    "amount": {"ko": "금액", "en": "Amount"},
    "no_usage": {"ko": "이 기간에 사용량이 없습니다.", "en": "No usage in this period."},
    "adjustment": {"ko": "단수 조정", "en": "Rounding adjustment"},
    "subtotal": {"ko": "공급가액", "en": "Subtotal"},
    "vat": {"ko": "부가가치세", "en": "VAT"},
    "total": {"ko": "합계 금액", "en": "Total"},
    "exact": {"ko": "원장 합계 (원 미만 포함)", "en": "Ledger total (before truncation)"},
    "rounding_note": {
        "ko": "금액은 사용 시점의 단가로 계산된 원장 금액의 합계이며, 원 미만은 절사합니다. "
        "부가가치세 = 공급가액 × {rate} (원 미만 절사).",
        "en": "Amounts are the ledger's costs at the price in force when each request was served; "
        "amounts below one won are truncated. VAT = subtotal × {rate}, truncated to whole won.",
    },
}


class _Formats:
    """Won, numbers and dates in one language (Babel, CLDR)."""

    def __init__(self, lang: Lang) -> None:
        self.lang = lang
        self.locale = _LOCALE[lang]

    def won(self, amount: int) -> str:
        return str(format_currency(amount, "KRW", locale=self.locale))

    def price(self, amount: Decimal | None) -> str:
        if amount is None:
            return "—"
        # Prices may have up to six decimal places, finer than the won's own digits.
        return str(
            format_currency(amount, "KRW", format="¤#,##0.######", currency_digits=False, locale=self.locale)
        )

    def exact(self, amount: Decimal) -> str:
        return str(
            format_currency(amount, "KRW", format="¤#,##0.000000", currency_digits=False, locale=self.locale)
        )

    def count(self, value: int) -> str:
        return str(format_decimal(value, locale=self.locale))

    def month(self, day: date) -> str:
        return str(format_date(day, _MONTH_PATTERN[self.lang], locale=self.locale))

    def day(self, day: date) -> str:
        return str(format_date(day, "medium", locale=self.locale))

    def moment(self, at: datetime) -> str:
        return str(format_datetime(at, "medium", tzinfo=at.tzinfo, locale=self.locale)) + " UTC"

    def percent(self, rate: Decimal) -> str:
        return f"{rate * 100:f}".rstrip("0").rstrip(".") + "%"


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("onshore.admin", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,  # a misspelt variable fails the tests instead of printing blank
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(invoice: Invoice, lang: str = "ko") -> str:
    """The invoice as one self-contained HTML page (inline CSS with an A4 ``@page`` rule).

    Raises:
        ValueError: ``lang`` is neither ``ko`` nor ``en``.
    """
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {', '.join(LANGS)}, not {lang!r}")
    language: Lang = "ko" if lang == "ko" else "en"
    fmt = _Formats(language)
    labels = {key: text[language] for key, text in _LABELS.items()}
    labels["rounding_note"] = labels["rounding_note"].format(rate=fmt.percent(invoice.totals.vat_rate))
    return (
        _environment()
        .get_template("invoice.html")
        .render(
            invoice=invoice,
            status=invoice_status(invoice),
            totals=invoice.totals,
            lines=list(enumerate(invoice.lines, start=1)),
            issuer=invoice.issuer.as_dict(),
            t=labels,
            fmt=fmt,
            lang=language,
        )
    )
