"""Setting and listing prices: exact amounts, the day they apply from, config and store merged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from onshore.admin import prices as ops
from onshore.config.settings import PriceSettings
from onshore.domain.limits import Price
from onshore.errors import InvalidRequest
from onshore.store.sql import SqlAuditLog, make_engine
from onshore.store.sql.limits import SqlLimitsStore
from onshore.store.sql.migrate import upgrade

TODAY = date(2026, 12, 7)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlLimitsStore]:
    url = f"sqlite:///{tmp_path / 'onshore.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield SqlLimitsStore(engine)
    engine.dispose()


def test_amounts_in_any_form_are_kept_exactly(store: SqlLimitsStore) -> None:
    price = ops.set_price(store, "llama", "1500.5", 3000, 0.1, "2026-01-01", today=TODAY)

    assert price == Price("llama", date(2026, 1, 1), Decimal("1500.5"), Decimal(3000), Decimal("0.1"))
    assert store.list_prices() == [price]


def test_the_day_defaults_to_today(store: SqlLimitsStore) -> None:
    assert ops.set_price(store, "llama", 1, 2, today=TODAY).effective_from == TODAY


@pytest.mark.parametrize(
    ("param", "kwargs"),
    [
        ("input_krw", {"input_krw": -1}),
        ("input_krw", {"input_krw": "abc"}),
        ("input_krw", {"input_krw": "NaN"}),
        ("input_krw", {"input_krw": float("inf")}),
        ("input_krw", {"input_krw": True}),
        ("output_krw", {"output_krw": "1000000000.000001"}),
        ("output_krw", {"output_krw": "0.0000001"}),
        ("cached_input_krw", {"cached_input_krw": "1e400"}),
        ("effective_from", {"effective_from": "2026-13-01"}),
        ("effective_from", {"effective_from": "20261201"}),
        ("model", {"model": "bad model"}),
        ("model", {"model": "llama\n"}),  # "$" let a trailing newline through
    ],
)
def test_bad_prices_are_refused_naming_the_field(
    store: SqlLimitsStore, param: str, kwargs: dict[str, object]
) -> None:
    args: dict[str, object] = {"model": "llama", "input_krw": 1, "output_krw": 2, **kwargs}
    with pytest.raises(InvalidRequest) as caught:
        ops.set_price(store, today=TODAY, **args)  # type: ignore[arg-type]
    assert caught.value.param == param
    assert store.list_prices() == []


def test_trailing_zeros_past_six_places_are_fine(store: SqlLimitsStore) -> None:
    assert ops.set_price(store, "llama", "1.5000000000", 2, today=TODAY).input_krw == Decimal("1.5")


def test_each_price_is_audited_with_what_it_replaced(store: SqlLimitsStore, tmp_path: Path) -> None:
    ops.set_price(store, "llama", 1, 2, effective_from="2026-01-01", actor="tester")
    ops.set_price(store, "llama", 3, 4, "0.5", effective_from="2026-01-01", actor="tester")

    engine = make_engine(f"sqlite:///{tmp_path / 'onshore.db'}")
    try:
        entries = SqlAuditLog(engine).list(action="prices.set")
    finally:
        engine.dispose()
    assert [e.actor for e in entries] == ["tester", "tester"]
    assert dict(entries[0].detail) == {
        "model": "llama",
        "effective_from": "2026-01-01",
        "input_krw": "3",
        "cached_input_krw": "0.5",
        "output_krw": "4",
        "replaced": {
            "model": "llama",
            "effective_from": "2026-01-01",
            "input_krw": "1.000000",
            "cached_input_krw": None,
            "output_krw": "2.000000",
        },
    }


def test_the_list_merges_config_and_store_and_marks_todays(store: SqlLimitsStore) -> None:
    config = [
        PriceSettings(model="llama", input_krw=Decimal(100), output_krw=Decimal(200)),  # from 2000-01-01
        PriceSettings(
            model="llama", input_krw=Decimal(1), output_krw=Decimal(2), effective_from=date(2026, 6, 1)
        ),
        PriceSettings(model="bge", input_krw=Decimal(5), output_krw=Decimal(0)),
    ]
    ops.set_price(store, "llama", 150, 250, effective_from="2026-06-01")  # replaces the config's
    ops.set_price(store, "llama", 300, 600, effective_from="2027-01-01")  # not yet in force

    listed = ops.list_prices(store, config, today=TODAY)

    assert [(p.price.model, str(p.price.effective_from), p.source, p.in_force) for p in listed] == [
        ("bge", "2000-01-01", "config", True),
        ("llama", "2000-01-01", "config", False),
        ("llama", "2026-06-01", "store", True),
        ("llama", "2027-01-01", "store", False),
    ]
    assert listed[2].price.input_krw == 150


def test_json_amounts_are_numbers(store: SqlLimitsStore) -> None:
    ops.set_price(store, "llama", "1500", "0.25", effective_from="2026-01-01")
    data = ops.prices_json(ops.list_prices(store, today=TODAY))

    assert orjson.loads(orjson.dumps(data)) == {
        "object": "list",
        "data": [
            {
                "object": "price",
                "model": "llama",
                "effective_from": "2026-01-01",
                "input_krw": 1500,
                "cached_input_krw": None,
                "output_krw": 0.25,
                "source": "store",
                "in_force": True,
            }
        ],
    }


def test_won_numbers_round_trip_at_the_bounds() -> None:
    for text in ("999999999.999999", "0.000001", "123456789.123456"):
        assert Decimal(repr(ops.krw_number(Decimal(text)))) == Decimal(text)
