"""Set and list prices (KRW per million tokens per model, from a UTC day on); their JSON form.

Prices come from two places: the config file (``prices:``) and the database (``onshore prices set``,
the admin API). The list merges them; on the same model and day the stored price wins, as it does in
the gateway's price book. Every price set writes one audit entry (``prices.set``) with it.

In JSON, won amounts are JSON numbers. A price has at most six decimal places and at most 1e9 won,
so it is exact as a double; parse it as a decimal where that matters.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from onshore.config.settings import PriceSettings
from onshore.domain.audit import AuditEntry
from onshore.domain.limits import Price, PriceBook
from onshore.errors import InvalidRequest
from onshore.ports import LimitsStore

Source = Literal["config", "store"]

MAX_PRICE_KRW = Decimal(1_000_000_000)  # per million tokens; the config file's bound too
_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}\Z")  # a model name, as in the config file
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MICRO_WON = Decimal("0.000001")  # prices are stored in micro-won per million tokens


@dataclass(frozen=True, slots=True)
class ListedPrice:
    price: Price
    source: Source
    in_force: bool  # the model's price today (UTC)


def set_price(
    store: LimitsStore,
    model: str,
    input_krw: object,
    output_krw: object,
    cached_input_krw: object = None,
    effective_from: object = None,
    *,
    actor: str = "system",
    today: date | None = None,
) -> Price:
    """Check a price (see :func:`new_price`) and store it with its audit entry (:func:`store_price`).

    A price set for a day in the past applies to requests metered after it is set: ledger rows
    already written keep the cost they were written with.

    Raises:
        InvalidRequest: as :func:`new_price`.
    """
    price = new_price(model, input_krw, output_krw, cached_input_krw, effective_from, today=today)
    return store_price(store, price, actor=actor)


def new_price(
    model: object,
    input_krw: object,
    output_krw: object,
    cached_input_krw: object = None,
    effective_from: object = None,
    *,
    today: date | None = None,
) -> Price:
    """A checked price. Won amounts may be a ``Decimal``, ``int``, ``float`` (a JSON number) or a
    string; ``effective_from`` a ``date`` or ``YYYY-MM-DD`` (default: today, UTC).

    Raises:
        InvalidRequest: a bad model name, an amount that is negative, above 1e9, finer than six
            decimal places or not a number, or a bad date (``param`` names the field).
    """
    if not isinstance(model, str) or not _MODEL.match(model):
        raise InvalidRequest(
            "model must be 1-128 characters: letters, digits, '.', '_', ':', '/' or '-'", param="model"
        )
    cached = None if cached_input_krw is None else parse_krw(cached_input_krw, "cached_input_krw")
    return Price(
        model=model,
        effective_from=parse_day(effective_from, today=today),
        input_krw=parse_krw(input_krw, "input_krw"),
        output_krw=parse_krw(output_krw, "output_krw"),
        cached_input_krw=cached,
    )


def store_price(store: LimitsStore, price: Price, *, actor: str = "system") -> Price:
    """Store a checked price (replacing the stored one for its model and day) with its audit entry,
    which records the price it replaced, if any."""
    replaced = next(
        (
            p
            for p in store.list_prices()
            if (p.model, p.effective_from) == (price.model, price.effective_from)
        ),
        None,
    )
    entry = AuditEntry.create(
        actor=actor,
        action="prices.set",
        target_type="price",
        target_id=price.model,
        # Amounts as strings: exact, and the audit detail must be plain JSON.
        detail={**_audit_values(price), "replaced": None if replaced is None else _audit_values(replaced)},
    )
    return store.add_price(price, entry)


def list_prices(
    store: LimitsStore, config: Sequence[PriceSettings] = (), *, today: date | None = None
) -> list[ListedPrice]:
    """Every price, config and stored merged (the stored one wins on the same model and day), by
    model then day; ``in_force`` marks each model's price for today."""
    day = today or datetime.now(UTC).date()
    sources: tuple[tuple[Source, list[Price]], ...] = (
        ("config", prices_from_settings(config)),
        ("store", store.list_prices()),
    )
    merged: dict[tuple[str, date], ListedPrice] = {}
    for source, prices in sources:  # the store's after the config's: on the same day it wins
        for price in prices:
            merged[(price.model, price.effective_from)] = ListedPrice(price, source, in_force=False)
    book = PriceBook(entry.price for entry in merged.values())
    current = {
        (p.model, p.effective_from) for p in (book.price_at(m, day) for m, _ in merged) if p is not None
    }
    return [
        ListedPrice(entry.price, entry.source, in_force=where in current)
        for where, entry in sorted(merged.items(), key=lambda item: item[0])
    ]


def prices_from_settings(config: Sequence[PriceSettings]) -> list[Price]:
    return [Price(p.model, p.effective_from, p.input_krw, p.output_krw, p.cached_input_krw) for p in config]


def price_json(price: Price, source: Source | None = None, *, in_force: bool | None = None) -> dict[str, Any]:
    """The public shape of a price: won per million tokens as JSON numbers; ``cached_input_krw`` is
    null when cached input costs what input costs. ``source`` and ``in_force`` in lists only."""
    out: dict[str, Any] = {
        "object": "price",
        "model": price.model,
        "effective_from": price.effective_from.isoformat(),
        "input_krw": krw_number(price.input_krw),
        "cached_input_krw": None if price.cached_input_krw is None else krw_number(price.cached_input_krw),
        "output_krw": krw_number(price.output_krw),
    }
    if source is not None:
        out["source"] = source
    if in_force is not None:
        out["in_force"] = in_force
    return out


def prices_json(listed: Sequence[ListedPrice]) -> dict[str, Any]:
    return {"object": "list", "data": [price_json(p.price, p.source, in_force=p.in_force) for p in listed]}


def krw_number(value: Decimal) -> int | float:
    """A won amount as a JSON number: an int when whole (``1500``, not ``1500.0``), else a float
    (exact for prices: at most six decimal places and 1e9 won)."""
    return int(value) if value == value.to_integral_value() else float(value)


# --- parsing --------------------------------------------------------------------------------------


def parse_krw(value: object, param: str) -> Decimal:
    """A won amount >= 0, at most 1e9 and six decimal places, from a number or a string."""
    amount: Decimal | None = None
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int) and not isinstance(value, bool):
        amount = Decimal(value)
    elif isinstance(value, float | str) and len(str(value)) <= 40:
        try:
            # repr of a float is the shortest text that reads back as it: 0.1 stays 0.1.
            amount = Decimal(repr(value) if isinstance(value, float) else value.strip())
        except InvalidOperation:
            amount = None
    if amount is None or not amount.is_finite():
        raise InvalidRequest(f"{param} must be a number of won, e.g. 1500 or 0.25", param=param)
    if not 0 <= amount <= MAX_PRICE_KRW:
        raise InvalidRequest(
            f"{param} must be from 0 to {MAX_PRICE_KRW:,} won per million tokens", param=param
        )
    if amount != amount.quantize(_MICRO_WON):
        raise InvalidRequest(f"{param} has more than six decimal places", param=param)
    return amount


def parse_day(value: object, *, today: date | None = None) -> date:
    """A UTC day from a ``date`` or ``YYYY-MM-DD``; None is today (UTC)."""
    if value is None:
        return today or datetime.now(UTC).date()
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DAY.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InvalidRequest(
        "effective_from must be a day as YYYY-MM-DD, e.g. 2026-12-01", param="effective_from"
    )


def _audit_values(price: Price) -> dict[str, str | None]:
    return {
        "model": price.model,
        "effective_from": price.effective_from.isoformat(),
        "input_krw": str(price.input_krw),
        "cached_input_krw": None if price.cached_input_krw is None else str(price.cached_input_krw),
        "output_krw": str(price.output_krw),
    }
