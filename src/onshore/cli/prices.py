"""``onshore prices set|list``: the price book, in won per million tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from onshore.cli.common import (
    Group,
    cli_actor,
    config_option,
    json_option,
    load,
    print_json,
    print_table,
    store_for,
)
from onshore.cli.limits import announce

if TYPE_CHECKING:
    from decimal import Decimal


@click.group(cls=Group)
def prices() -> None:
    """Set and list prices per model (KRW per million tokens)."""


@prices.command("set")
@click.option("--model", required=True, metavar="NAME", help="The public model name.")
@click.option("--input", "input_krw", required=True, metavar="KRW", help="Won per million input tokens.")
@click.option("--output", "output_krw", required=True, metavar="KRW", help="Won per million output tokens.")
@click.option(
    "--cached-input",
    "cached_input_krw",
    default=None,
    metavar="KRW",
    help="Won per million prompt tokens served from the engine's cache (default: the input price).",
)
@click.option(
    "--from",
    "effective_from",
    default=None,
    metavar="YYYY-MM-DD",
    help="The UTC day the price applies from (default: today). Rows already metered keep their cost.",
)
@config_option
@json_option
def set_(
    model: str,
    input_krw: str,
    output_krw: str,
    cached_input_krw: str | None,
    effective_from: str | None,
    config: str | None,
    as_json: bool,
) -> None:
    """Set a model's price from a day on (replacing a stored price for the same day)."""
    from onshore.admin.prices import price_json, set_price  # noqa: PLC0415

    settings = load(config)
    store = store_for(config, settings)
    try:
        price = set_price(
            store.limits, model, input_krw, output_krw, cached_input_krw, effective_from, actor=cli_actor()
        )
    finally:
        store.close()
    announce(settings)
    if as_json:
        print_json(price_json(price))
    else:
        click.echo(f"price of {price.model} set from {price.effective_from.isoformat()}")


@prices.command("list")
@config_option
@json_option
def list_(config: str | None, as_json: bool) -> None:
    """List every price, from the config file and set here; the stored one wins on the same day."""
    from onshore.admin.prices import list_prices, price_json  # noqa: PLC0415

    settings = load(config)
    store = store_for(config, settings)
    try:
        listed = list_prices(store.limits, settings.prices)
    finally:
        store.close()
    if as_json:
        print_json([price_json(p.price, p.source, in_force=p.in_force) for p in listed])
        return
    rows = [
        (
            p.price.model,
            p.price.effective_from.isoformat(),
            _krw(p.price.input_krw),
            "-" if p.price.cached_input_krw is None else _krw(p.price.cached_input_krw),
            _krw(p.price.output_krw),
            p.source,
            "yes" if p.in_force else "",
        )
        for p in listed
    ]
    click.echo("won per million tokens")
    print_table(["model", "from", "input", "cached input", "output", "source", "in force"], rows)


def _krw(value: Decimal) -> str:
    """1500.500000 -> 1,500.5: the digits that matter, grouped."""
    return f"{value.normalize():,f}"
