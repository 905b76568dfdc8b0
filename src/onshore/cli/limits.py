"""``onshore limits set|show|clear (--org NAME | --key KEY_ID)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

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

if TYPE_CHECKING:
    from onshore.admin.limits import LimitsView
    from onshore.config.settings import Settings

_F = TypeVar("_F", bound=Callable[..., Any])
# The limits as flags: (field, flag). The names are the public contract (issue 8).
_FLAGS = (
    ("rpm", "--rpm"),
    ("tpm", "--tpm"),
    ("max_concurrent", "--max-concurrent"),
    ("monthly_tokens", "--monthly-tokens"),
    ("monthly_budget_krw", "--monthly-budget-krw"),
)
_HELP = {
    "rpm": "Requests per minute.",
    "tpm": "Tokens per minute (prompt plus completion).",
    "max_concurrent": "Requests in flight at once.",
    "monthly_tokens": "Tokens per calendar month (UTC).",
    "monthly_budget_krw": "Won per calendar month (UTC), at the price book's prices.",
}
_TIERS = ("priority", "standard", "batch")


@click.group(cls=Group)
def limits() -> None:
    """Set, show and clear the limits of an organisation or a key."""


def _subject(command: _F) -> _F:
    command = click.option("--key", "key_id", default=None, metavar="KEY_ID", help="A key, by its id.")(
        command
    )
    return click.option("--org", "org", default=None, metavar="NAME", help="An organisation, by name.")(
        command
    )


def _scope(org: str | None, key_id: str | None) -> tuple[str, str]:
    if org is not None and key_id is None:
        return "org", org
    if key_id is not None and org is None:
        return "key", key_id
    raise click.UsageError("give exactly one of --org NAME or --key KEY_ID")


@limits.command("set")
@_subject
@click.option("--rpm", type=int, default=None, metavar="N", help=_HELP["rpm"])
@click.option("--tpm", type=int, default=None, metavar="N", help=_HELP["tpm"])
@click.option(
    "--max-concurrent", "max_concurrent", type=int, default=None, metavar="N", help=_HELP["max_concurrent"]
)
@click.option(
    "--monthly-tokens", "monthly_tokens", type=int, default=None, metavar="N", help=_HELP["monthly_tokens"]
)
@click.option(
    "--monthly-budget-krw",
    "monthly_budget_krw",
    type=int,
    default=None,
    metavar="N",
    help=_HELP["monthly_budget_krw"],
)
@click.option(
    "--tier", type=click.Choice(_TIERS), default=None, help="Share of the fleet under overload (orgs)."
)
@config_option
@json_option
def set_(org: str | None, key_id: str | None, config: str | None, as_json: bool, **given: Any) -> None:
    """Set limits; those not given keep their value. 0 is a limit (nothing is allowed)."""
    from onshore.admin.limits import set_limits  # noqa: PLC0415

    scope, subject = _scope(org, key_id)
    changes = {name: value for name, value in given.items() if value is not None}
    if not changes:
        raise click.UsageError("give at least one limit to set, e.g. --rpm 60 (see --help)")
    settings = load(config)
    store = store_for(config, settings)
    try:
        view = set_limits(store.tenancy, store.limits, scope, subject, changes, actor=cli_actor())
    finally:
        store.close()
    announce(settings)
    _show(view, as_json)


@limits.command("show")
@_subject
@config_option
@json_option
def show(org: str | None, key_id: str | None, config: str | None, as_json: bool) -> None:
    """Show limits; for a key, its organisation's and the effective ones too."""
    from onshore.admin.limits import show_limits  # noqa: PLC0415

    scope, subject = _scope(org, key_id)
    store = store_for(config)
    try:
        view = show_limits(store.tenancy, store.limits, scope, subject)
    finally:
        store.close()
    _show(view, as_json)


@limits.command("clear")
@_subject
@click.option("--rpm", is_flag=True, help="Clear the requests-per-minute limit.")
@click.option("--tpm", is_flag=True, help="Clear the tokens-per-minute limit.")
@click.option("--max-concurrent", "max_concurrent", is_flag=True, help="Clear the concurrency limit.")
@click.option("--monthly-tokens", "monthly_tokens", is_flag=True, help="Clear the monthly token quota.")
@click.option("--monthly-budget-krw", "monthly_budget_krw", is_flag=True, help="Clear the monthly budget.")
@click.option("--tier", is_flag=True, help="Clear the tier (back to standard).")
@config_option
@json_option
def clear(org: str | None, key_id: str | None, config: str | None, as_json: bool, **flags: bool) -> None:
    """Remove limits: the ones flagged, or every one when no flag is given."""
    from onshore.admin.limits import clear_limits  # noqa: PLC0415

    scope, subject = _scope(org, key_id)
    names = [name for name, on in flags.items() if on]
    settings = load(config)
    store = store_for(config, settings)
    try:
        view = clear_limits(store.tenancy, store.limits, scope, subject, names or None, actor=cli_actor())
    finally:
        store.close()
    announce(settings)
    _show(view, as_json)


def _show(view: LimitsView, as_json: bool) -> None:
    from onshore.admin.limits import ALL_FIELDS, limits_json  # noqa: PLC0415

    data = limits_json(view)
    if as_json:
        print_json(data)
        return
    if view.key is None:
        click.echo(f"organisation {view.org.name} ({view.org.id})")
        print_table(["limit", "value"], [(name, _cell(data["limits"][name])) for name in ALL_FIELDS])
        return
    click.echo(f"key {view.key.id} of organisation {view.org.name}")
    rows = [
        (name, _cell(data["limits"][name]), _cell(data["org_limits"][name]), _cell(data["effective"][name]))
        for name in ALL_FIELDS
    ]
    print_table(["limit", "key", "organisation", "effective"], rows)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) else str(value)


def announce(settings: Settings) -> None:
    """With Redis configured, every replica reloads its limits and prices now; else at its next poll."""
    import asyncio  # noqa: PLC0415

    from onshore.bootstrap import publish_revocation  # noqa: PLC0415
    from onshore.domain.limits import LIMITS_CHANGED_NOTICE  # noqa: PLC0415

    if asyncio.run(publish_revocation(settings, LIMITS_CHANGED_NOTICE)) is False:
        click.echo("warning: could not notify replicas through Redis; they will see it by polling", err=True)
