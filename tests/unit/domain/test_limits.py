"""Limits and the price book: which price is in force on a day, and what a request costs."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onshore.domain.limits import Limits, Price, PriceBook, Tier, micro_to_krw

JAN, MAR = date(2026, 1, 1), date(2026, 3, 1)


def test_the_price_in_force_is_the_newest_not_after_the_day() -> None:
    book = PriceBook(
        [Price("m", JAN, Decimal(100), Decimal(200)), Price("m", MAR, Decimal(150), Decimal(300))]
    )
    assert book.price_at("m", date(2025, 12, 31)) is None
    assert book.price_at("m", date(2026, 2, 28)).input_krw == 100  # type: ignore[union-attr]
    assert book.price_at("m", MAR).input_krw == 150  # type: ignore[union-attr]
    assert book.price_at("other", MAR) is None
    assert book.cost_micro_krw("other", MAR, 1, 1) is None


def test_a_later_source_wins_on_the_same_day() -> None:
    config = Price("m", JAN, Decimal(100), Decimal(200))
    stored = Price("m", JAN, Decimal(90), Decimal(180))
    assert PriceBook([config, stored]).price_at("m", JAN) == stored
    assert len(PriceBook([config, stored])) == 1


def test_cached_input_is_priced_as_cached_and_never_more_than_the_prompt() -> None:
    price = Price("m", JAN, Decimal(1000), Decimal(4000), cached_input_krw=Decimal(250))
    # 600 uncached x 1000 + 400 cached x 250 + 50 x 4000 micro-won
    assert price.cost_micro_krw(1000, 50, cached_tokens=400) == 600_000 + 100_000 + 200_000
    assert price.cost_micro_krw(10, 0, cached_tokens=99) == 2_500  # all 10 cached
    assert micro_to_krw(900_000) == Decimal("0.900000")


_krw = st.decimals(min_value=0, max_value=10**6, places=6, allow_nan=False, allow_infinity=False)
_tokens = st.integers(min_value=0, max_value=10**7)


@given(_krw, _krw, st.one_of(st.none(), _krw), _tokens, _tokens, _tokens)
def test_the_integer_cost_equals_the_exact_decimal_one(
    input_krw: Decimal, output_krw: Decimal, cached: Decimal | None, prompt: int, completion: int, hits: int
) -> None:
    price = Price("m", JAN, input_krw, output_krw, cached)
    hit = min(hits, prompt)
    exact = (
        input_krw * (prompt - hit) + (input_krw if cached is None else cached) * hit + output_krw * completion
    )
    expected = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))  # KRW/M x tokens = micro-won
    assert price.cost_micro_krw(prompt, completion, hits) == expected
    assert PriceBook([price]).cost_micro_krw("m", JAN, prompt, completion, hits) == expected


def test_limits_change_and_clear_by_name() -> None:
    limits = Limits().with_changes({"rpm": 10, "tier": Tier.BATCH})
    assert (limits.rpm, limits.tier, limits.empty) == (10, Tier.BATCH, False)
    assert limits.without(["rpm", "tier"]).empty
    with pytest.raises(ValueError, match="unknown"):
        limits.with_changes({"rps": 1})
    assert limits.as_dict()["tier"] == "batch"
