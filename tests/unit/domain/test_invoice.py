"""The invoice's arithmetic: lines per model and price period, whole-won truncation, VAT."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onshore.domain.invoice import (
    InvoiceLine,
    Month,
    UsageDay,
    build_invoice,
    floor_krw,
    invoice_lines,
    invoice_number,
    invoice_totals,
)
from onshore.domain.limits import Price, PriceBook

NOV = Month(2026, 11)
AT = datetime(2026, 12, 1, 3, tzinfo=UTC)


def _line(micro: int, model: str = "m") -> InvoiceLine:
    return InvoiceLine(model, NOV.first_day, NOV.last_day, 1, 0, 0, 0, None, None, None, micro)


def _day(model: str, day: int, cost: int, *, tokens: tuple[int, int, int] = (10, 0, 5)) -> UsageDay:
    return UsageDay(model, date(2026, 11, day), 1, tokens[0], tokens[1], tokens[2], cost)


def test_a_month_is_its_utc_days() -> None:
    month = Month.parse("2026-02")
    assert (month.first_day, month.last_day) == (date(2026, 2, 1), date(2026, 2, 28))
    assert (month.start, month.end) == (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))
    assert Month.parse("2026-12").next() == Month(2027, 1)
    assert str(Month(2026, 1)) == "2026-01"
    for bad in ("2026-13", "2026-00", "26-01", "2026-1", "0000-01", "2026-01-01", " "):
        with pytest.raises(ValueError, match="month"):
            Month.parse(bad)


def test_amounts_below_one_won_are_truncated_and_vat_is_floored() -> None:
    # 1,234,567.899999 won exact: subtotal 1,234,567; VAT floor(123,456.7) = 123,456.
    totals = invoice_totals([_line(1_234_567_899_999)], Decimal("0.1"))
    assert totals.subtotal_krw == 1_234_567
    assert totals.vat_krw == 123_456
    assert totals.total_krw == 1_358_023
    assert totals.truncated_krw == Decimal("0.899999")
    assert totals.adjustment_krw == 0


def test_the_adjustment_makes_the_whole_won_lines_add_up() -> None:
    # Three lines of 0.6 won each: each shows 0 won, the subtotal is floor(1.8) = 1 won.
    lines = [_line(600_000, model) for model in ("a", "b", "c")]
    totals = invoice_totals(lines)
    assert [line.amount_krw for line in lines] == [0, 0, 0]
    assert totals.subtotal_krw == 1
    assert totals.adjustment_krw == 1
    assert sum(line.amount_krw for line in lines) + totals.adjustment_krw == totals.subtotal_krw


def test_vat_rate_is_configurable_and_never_negative() -> None:
    assert invoice_totals([_line(1_000_000_000)], Decimal("0")).total_krw == 1000
    assert invoice_totals([_line(999_000_000)], Decimal("0.05")).vat_krw == 49  # floor(49.95)
    with pytest.raises(ValueError):
        invoice_totals([], Decimal("-0.1"))


def test_a_price_change_in_the_middle_gives_one_line_per_price_period() -> None:
    book = PriceBook(
        [
            Price("chat", date(2026, 1, 1), Decimal(1000), Decimal(2000)),
            Price("chat", date(2026, 11, 16), Decimal(1500), Decimal(3000), Decimal(100)),
            Price("chat", date(2027, 1, 1), Decimal(9), Decimal(9)),
            Price("embed", date(2026, 11, 10), Decimal(10), Decimal(0)),
        ]
    )
    days = [
        _day("chat", 1, 100),
        _day("chat", 15, 200),
        _day("chat", 16, 400, tokens=(7, 3, 1)),
        _day("chat", 30, 800),
        _day("embed", 2, 0),  # before embed had a price
        _day("embed", 12, 5),
        UsageDay("chat", date(2026, 12, 1), 1, 1, 1, 1, 10_000),  # another month: ignored
    ]
    lines = invoice_lines(days, book, NOV)
    summary = [(ln.model, ln.period_start.day, ln.period_end.day, ln.amount_micro_krw) for ln in lines]
    assert summary == [
        ("chat", 1, 15, 300),
        ("chat", 16, 30, 1200),
        ("embed", 1, 9, 0),
        ("embed", 10, 30, 5),
    ]
    second = lines[1]
    assert (second.input_price_krw, second.cached_price_krw, second.output_price_krw) == (
        Decimal(1500),
        Decimal(100),
        Decimal(3000),
    )
    assert (second.input_tokens, second.cached_tokens, second.output_tokens) == (17, 3, 6)
    assert lines[0].cached_price_krw == Decimal(1000)  # no cached price: cached costs input's
    assert lines[2].input_price_krw is None


def test_build_invoice_is_a_preview_and_a_correction_counts_revisions() -> None:
    book = PriceBook([Price("chat", date(2026, 1, 1), Decimal(1000), Decimal(2000))])
    first = build_invoice(
        org_id="org_1",
        org_name="acme",
        month=NOV,
        days=[_day("chat", 3, 2_500_000)],
        book=book,
        issued_at=AT,
        issued_by="cli:ops",
    )
    assert first.is_preview and first.revision == 0 and first.corrects is None
    assert first.totals.subtotal_krw == 2 and first.totals.vat_krw == 0
    issued = replace(first, id="INV-2026-11-000001")
    again = build_invoice(
        org_id="org_1",
        org_name="acme",
        month=NOV,
        days=[],
        book=book,
        issued_at=AT,
        issued_by="x",
        corrects=issued,
    )
    assert (again.revision, again.corrects, again.lines, again.totals.total_krw) == (
        1,
        "INV-2026-11-000001",
        (),
        0,
    )


def test_invoice_numbers_name_the_month_and_the_sequence() -> None:
    assert invoice_number(Month(2026, 12), 1) == "INV-2026-12-000001"
    assert invoice_number(Month(2027, 1), 1234567) == "INV-2027-01-1234567"


def test_floor_krw() -> None:
    assert floor_krw(Decimal("12.999999")) == 12
    assert floor_krw(Decimal("12")) == 12
    assert floor_krw(Decimal("0.000001")) == 0


_MICRO = st.integers(min_value=0, max_value=10**16)  # up to ten billion won per line
_RATES = st.decimals(min_value=0, max_value=1, places=4, allow_nan=False, allow_infinity=False)


@given(st.lists(_MICRO, max_size=30), _RATES)
def test_the_figures_always_add_up(amounts: list[int], rate: Decimal) -> None:
    lines = [_line(micro, f"m{i}") for i, micro in enumerate(amounts)]
    totals = invoice_totals(lines, rate)
    exact = sum((Decimal(m) / 1_000_000 for m in amounts), Decimal(0))
    assert totals.ledger_micro_krw == sum(amounts)
    assert totals.subtotal_krw == floor_krw(exact)
    assert totals.vat_krw == floor_krw(totals.subtotal_krw * rate)
    assert totals.total_krw == totals.subtotal_krw + totals.vat_krw
    assert sum(line.amount_krw for line in lines) + totals.adjustment_krw == totals.subtotal_krw
    assert 0 <= totals.adjustment_krw < max(len(lines), 1)
    assert 0 <= totals.truncated_krw < 1


_DAYS = st.lists(
    st.builds(
        UsageDay,
        model=st.sampled_from(["a", "b", "c"]),
        day=st.dates(min_value=date(2026, 10, 25), max_value=date(2026, 12, 5)),
        requests=st.integers(0, 1000),
        input_tokens=st.integers(0, 10**9),
        cached_tokens=st.integers(0, 10**9),
        output_tokens=st.integers(0, 10**9),
        cost_micro_krw=st.integers(0, 10**14),
    ),
    max_size=60,
)
_PRICES = st.lists(
    st.builds(
        Price,
        model=st.sampled_from(["a", "b", "c"]),
        effective_from=st.dates(min_value=date(2026, 10, 1), max_value=date(2026, 12, 31)),
        input_krw=st.integers(0, 10_000).map(Decimal),
        output_krw=st.integers(0, 10_000).map(Decimal),
    ),
    max_size=8,
)


@given(_DAYS, _PRICES)
def test_lines_hold_every_day_of_the_month_once(days: list[UsageDay], prices: list[Price]) -> None:
    book = PriceBook(prices)
    lines = invoice_lines(days, book, NOV)
    inside = [d for d in days if d.day.month == 11]
    assert sum(ln.amount_micro_krw for ln in lines) == sum(d.cost_micro_krw for d in inside)
    for field in ("requests", "input_tokens", "cached_tokens", "output_tokens"):
        assert sum(getattr(ln, field) for ln in lines) == sum(getattr(d, field) for d in inside)
    for line in lines:
        assert NOV.first_day <= line.period_start <= line.period_end <= NOV.last_day
        for d in inside:
            if d.model == line.model and line.period_start <= d.day <= line.period_end:
                price = book.price_at(d.model, d.day)
                assert (None if price is None else price.input_krw) == line.input_price_krw
    # Periods of one model never overlap.
    for model in {ln.model for ln in lines}:
        spans = sorted((ln.period_start, ln.period_end) for ln in lines if ln.model == model)
        assert all(a[1] < b[0] for a, b in itertools.pairwise(spans))
