"""Monthly invoices in KRW: lines per model and price period, whole-won rounding, VAT.

An invoice bills one organisation's UTC calendar month. Its money comes from the ledger, never
from a second calculation: every ledger row already carries its cost at the price in force when it
was served (micro-won, rounded half up per request, see ``Price.cost_micro_krw``), so the invoice
only adds those costs up. The price book only decides how the rows are grouped into lines: one
line per model and price period, so a month with a price change in the middle has two lines for
that model, each with the unit prices of its period.

Rounding, as Korean invoices do it (원 미만 절사, amounts below one won are dropped)::

    exact      = sum of the ledger rows' cost_micro_krw / 1,000,000        (a Decimal, 6 places)
    subtotal   = floor(exact)                                              (공급가액, whole won)
    vat        = floor(subtotal x vat_rate)                                (부가세, whole won)
    total      = subtotal + vat                                            (합계)

Each line shows its exact amount truncated to whole won; what the truncation of the lines took
away beyond the subtotal's own truncation comes back as ``adjustment_krw`` (단수 조정, from 0 to
the number of lines minus one), so the whole-won figures on the page add up exactly:
``sum(line.amount_krw) + adjustment_krw == subtotal_krw``.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from onshore.domain.limits import Price, PriceBook, micro_to_krw

CURRENCY = "KRW"
DEFAULT_VAT_RATE = Decimal("0.1")
_MICRO = 1_000_000
_MONTH = re.compile(r"^(\d{4})-(\d{2})\Z")


@dataclass(frozen=True, slots=True, order=True)
class Month:
    """A UTC calendar month, written ``YYYY-MM``."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not (1 <= self.month <= 12 and 1 <= self.year <= 9998):
            raise ValueError(f"not a month: {self.year}-{self.month}")

    @classmethod
    def parse(cls, text: str) -> Month:
        """``YYYY-MM`` as a month.

        Raises:
            ValueError: ``text`` is not a month written ``YYYY-MM``.
        """
        match = _MONTH.match(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise ValueError("a month is written YYYY-MM, e.g. 2026-12")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, moment: datetime) -> Month:
        moment = moment.astimezone(UTC)
        return cls(moment.year, moment.month)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return self.next().first_day - timedelta(days=1)

    @property
    def start(self) -> datetime:
        """The first instant of the month, UTC."""
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The first instant after the month, UTC (the period is ``start <= t < end``)."""
        return self.next().start

    def next(self) -> Month:
        return Month(self.year + (self.month == 12), self.month % 12 + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True, slots=True)
class UsageDay:
    """One model's billable usage on one UTC day, as the ledger sums it (``UsageReader.usage_days``)."""

    model: str
    day: date
    requests: int
    input_tokens: int  # prompt tokens not served from the prefix cache
    cached_tokens: int
    output_tokens: int
    cost_micro_krw: int  # the rows' costs, each at the price in force when served


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """One model over one price period (UTC days, both included) of the month."""

    model: str
    period_start: date
    period_end: date
    requests: int
    input_tokens: int
    cached_tokens: int
    output_tokens: int
    # Won per million tokens in force over the period (cached: what cached input cost then);
    # all None when the model had no price then.
    input_price_krw: Decimal | None
    cached_price_krw: Decimal | None
    output_price_krw: Decimal | None
    amount_micro_krw: int  # the ledger's cost of the line's rows

    @property
    def exact_krw(self) -> Decimal:
        return micro_to_krw(self.amount_micro_krw)

    @property
    def amount_krw(self) -> int:
        """The line's amount truncated to whole won (what the invoice shows)."""
        return self.amount_micro_krw // _MICRO


@dataclass(frozen=True, slots=True)
class InvoiceTotals:
    """The invoice's figures, in whole won except ``ledger_micro_krw`` (see the module docstring)."""

    ledger_micro_krw: int
    subtotal_krw: int
    vat_rate: Decimal
    vat_krw: int
    total_krw: int
    adjustment_krw: int = 0  # subtotal minus the lines' whole-won amounts

    @property
    def exact_krw(self) -> Decimal:
        return micro_to_krw(self.ledger_micro_krw)

    @property
    def truncated_krw(self) -> Decimal:
        """What the subtotal drops below one won (0 <= it < 1)."""
        return self.exact_krw - self.subtotal_krw


@dataclass(frozen=True, slots=True)
class Issuer:
    """Who issues the invoice (``billing.*`` in the config); every field optional."""

    name: str | None = None
    business_registration_number: str | None = None
    representative: str | None = None
    address: str | None = None
    contact: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {key: value for key, value in _issuer_items(self) if value is not None}

    @classmethod
    def from_dict(cls, values: Mapping[str, object]) -> Issuer:
        known = {key for key, _ in _issuer_items(cls())}
        return cls(**{k: str(v) for k, v in values.items() if k in known and v is not None})


def _issuer_items(issuer: Issuer) -> list[tuple[str, str | None]]:
    return [
        ("name", issuer.name),
        ("business_registration_number", issuer.business_registration_number),
        ("representative", issuer.representative),
        ("address", issuer.address),
        ("contact", issuer.contact),
    ]


@dataclass(frozen=True, slots=True)
class Invoice:
    """An issued invoice (``id`` set) or a preview of one (``id`` None: computed, never stored).

    ``superseded_by`` is never stored on the invoice itself: it is read from the newer invoice
    whose ``corrects`` names this one, so issuing a correction changes nothing already issued.
    """

    id: str | None
    org_id: str
    org_name: str
    month: Month
    issued_at: datetime
    issued_by: str
    lines: tuple[InvoiceLine, ...]
    totals: InvoiceTotals
    issuer: Issuer = field(default_factory=Issuer)
    seq: int | None = None
    revision: int = 0
    corrects: str | None = None
    superseded_by: str | None = None
    currency: str = CURRENCY

    @property
    def is_preview(self) -> bool:
        return self.id is None


def floor_krw(amount: Decimal) -> int:
    """Whole won below ``amount`` (원 미만 절사); exact for any Decimal."""
    return int(amount.to_integral_value(rounding=ROUND_FLOOR))


def invoice_totals(lines: Iterable[InvoiceLine], vat_rate: Decimal = DEFAULT_VAT_RATE) -> InvoiceTotals:
    """Subtotal, VAT and total of ``lines`` (see the module docstring for the rule).

    Raises:
        ValueError: ``vat_rate`` is negative or not finite.
    """
    if not vat_rate.is_finite() or vat_rate < 0:
        raise ValueError(f"a VAT rate is a fraction >= 0, not {vat_rate}")
    line_list = list(lines)
    ledger = sum(line.amount_micro_krw for line in line_list)
    subtotal = ledger // _MICRO
    vat = floor_krw(Decimal(subtotal) * vat_rate)
    return InvoiceTotals(
        ledger_micro_krw=ledger,
        subtotal_krw=subtotal,
        vat_rate=vat_rate,
        vat_krw=vat,
        total_krw=subtotal + vat,
        adjustment_krw=subtotal - sum(line.amount_krw for line in line_list),
    )


def invoice_lines(days: Iterable[UsageDay], book: PriceBook, month: Month) -> tuple[InvoiceLine, ...]:
    """One line per model and price period with usage in ``month``, by model then period.

    Days outside ``month`` are ignored. A line's period is the part of the month its price was in
    force (the first price's period starts at the month's first day when it is older; a model
    without a price that day gets a line with ``price`` None for the days before its first one).
    """
    groups: dict[tuple[str, date | None], list[UsageDay]] = {}
    prices: dict[tuple[str, date | None], Price | None] = {}
    for usage in days:
        if not month.first_day <= usage.day <= month.last_day:
            continue
        price = book.price_at(usage.model, usage.day)
        key = (usage.model, None if price is None else price.effective_from)
        groups.setdefault(key, []).append(usage)
        prices[key] = price
    starts = _price_days(book)
    lines = [
        _line(model, prices[(model, since)], rows, month, starts.get(model, []))
        for (model, since), rows in groups.items()
    ]
    return tuple(sorted(lines, key=lambda line: (line.model, line.period_start)))


def _price_days(book: PriceBook) -> dict[str, list[date]]:
    out: dict[str, list[date]] = {}
    for price in book.prices():  # by model, then day
        out.setdefault(price.model, []).append(price.effective_from)
    return out


def _line(
    model: str, price: Price | None, rows: list[UsageDay], month: Month, starts: list[date]
) -> InvoiceLine:
    # The period: from this price's day (or the month's first) to the day before the next price.
    since = month.first_day if price is None else max(price.effective_from, month.first_day)
    after = bisect.bisect_right(starts, since)
    until = month.last_day if after >= len(starts) else min(month.last_day, starts[after] - timedelta(days=1))
    return InvoiceLine(
        model=model,
        period_start=since,
        period_end=until,
        requests=sum(r.requests for r in rows),
        input_tokens=sum(r.input_tokens for r in rows),
        cached_tokens=sum(r.cached_tokens for r in rows),
        output_tokens=sum(r.output_tokens for r in rows),
        input_price_krw=None if price is None else price.input_krw,
        cached_price_krw=None if price is None else price.cached_krw,
        output_price_krw=None if price is None else price.output_krw,
        amount_micro_krw=sum(r.cost_micro_krw for r in rows),
    )


def build_invoice(
    *,
    org_id: str,
    org_name: str,
    month: Month,
    days: Iterable[UsageDay],
    book: PriceBook,
    vat_rate: Decimal = DEFAULT_VAT_RATE,
    issued_at: datetime,
    issued_by: str,
    issuer: Issuer | None = None,
    corrects: Invoice | None = None,
) -> Invoice:
    """A preview (``id`` None) of an organisation's invoice for ``month``; the store numbers it
    when it is issued. A correction's ``revision`` is the corrected invoice's plus one."""
    lines = invoice_lines(days, book, month)
    return Invoice(
        id=None,
        org_id=org_id,
        org_name=org_name,
        month=month,
        issued_at=issued_at,
        issued_by=issued_by,
        lines=lines,
        totals=invoice_totals(lines, vat_rate),
        issuer=issuer or Issuer(),
        revision=0 if corrects is None else corrects.revision + 1,
        corrects=None if corrects is None else corrects.id,
    )


def invoice_number(month: Month, seq: int) -> str:
    """``INV-2026-12-000001``: the billed month, then the invoice's number in the one sequence all
    invoices share (so numbers never repeat across months and have no gaps)."""
    return f"INV-{month}-{seq:06d}"
