"""``onshore policy set|show|clear (--org NAME | --key KEY_ID)``: jurisdictions and personal data.

Flag values are checked as click checks its own (exit 2, naming the flag); what the stored policy
refuses (a key wider than its organisation, ``--restore`` without ``redact``) exits 1 with one line,
like ``onshore limits``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
    from onshore.admin.policy import PolicyView

_MODES = ("off", "detect", "redact", "block")
_ROWS = ("jurisdictions", "pii", "pii_types", "restore", "redact_output")


@click.group(cls=Group)
def policy() -> None:
    """Set and show where an organisation's or key's data may go, and what happens to personal data."""


def jurisdictions_flag(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--jurisdictions KR,jp`` -> ``JP,KR``; a bad code is a usage error (exit 2) naming the flag."""
    if value is None:
        return None
    from onshore.domain.policy import parse_jurisdictions  # noqa: PLC0415 - keep --help fast

    try:
        return ",".join(parse_jurisdictions(value))
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


def _pii_types_flag(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None or value.strip().lower() == "all":
        return value
    from onshore.domain.policy import parse_pii_types  # noqa: PLC0415

    try:
        return ",".join(t.value for t in parse_pii_types(value))
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


def _scope(org: str | None, key_id: str | None) -> tuple[str, str]:
    if org is not None and key_id is None:
        return "org", org
    if key_id is not None and org is None:
        return "key", key_id
    raise click.UsageError("give exactly one of --org NAME or --key KEY_ID")


_org_option = click.option("--org", "org", default=None, metavar="NAME", help="An organisation, by name.")
_key_option = click.option("--key", "key_id", default=None, metavar="KEY_ID", help="A key, by its id.")


@policy.command("set")
@_org_option
@_key_option
@click.option("--pii", type=click.Choice(_MODES), default=None, help="What to do with personal data.")
@click.option(
    "--pii-types",
    "pii_types",
    default=None,
    callback=_pii_types_flag,
    metavar="TYPES",
    help="Comma-separated types, e.g. KR_RRN,KR_PHONE, or 'all' (the default: every type).",
)
@click.option(
    "--restore/--no-restore",
    default=None,
    help="Put the originals back into the answer to the same request (with --pii redact).",
)
@click.option(
    "--redact-output/--no-redact-output",
    "redact_output",
    default=None,
    help="Scan the answer too, and redact personal data the model wrote.",
)
@click.option(
    "--jurisdictions",
    default=None,
    callback=jurisdictions_flag,
    metavar="CODES",
    help="Where data may be processed, e.g. KR,JP (a key's only narrow its organisation's).",
)
@config_option
@json_option
def set_(org: str | None, key_id: str | None, config: str | None, as_json: bool, **given: Any) -> None:
    """Set a policy; what is not given keeps its value. A key's --pii replaces its organisation's."""
    scope, subject = _scope(org, key_id)
    changes = {name: value for name, value in given.items() if value is not None}
    if not changes:
        raise click.UsageError("give at least one setting, e.g. --pii redact (see --help)")
    if isinstance(changes.get("pii_types"), str) and changes["pii_types"].strip().lower() == "all":
        changes["pii_types"] = None
    _apply(config, scope, subject, changes, as_json)


@policy.command("clear")
@_org_option
@_key_option
@click.option(
    "--pii", is_flag=True, help="Clear the personal-data policy (a key: back to its organisation's)."
)
@click.option("--jurisdictions", is_flag=True, help="Clear the jurisdictions (back to the default).")
@config_option
@json_option
def clear(
    org: str | None, key_id: str | None, pii: bool, jurisdictions: bool, config: str | None, as_json: bool
) -> None:
    """Clear what a subject has set: the parts flagged, or all of it when none is."""
    scope, subject = _scope(org, key_id)
    both = not (pii or jurisdictions)
    changes = {name: None for name, on in (("pii", pii), ("jurisdictions", jurisdictions)) if on or both}
    _apply(config, scope, subject, changes, as_json)


def _apply(config: str | None, scope: str, subject: str, changes: dict[str, Any], as_json: bool) -> None:
    from onshore.admin.policy import set_policy  # noqa: PLC0415

    settings = load(config)
    store = store_for(config, settings)
    try:
        view = set_policy(
            store.tenancy,
            store.policies,
            scope,
            subject,
            changes,
            home=settings.server.jurisdiction,
            actor=cli_actor(),
        )
    finally:
        store.close()
    announce(settings)
    show_view(view, as_json)


@policy.command("show")
@_org_option
@_key_option
@config_option
@json_option
def show(org: str | None, key_id: str | None, config: str | None, as_json: bool) -> None:
    """Show a policy; for a key, its organisation's and the effective one too."""
    from onshore.admin.policy import show_policy  # noqa: PLC0415

    scope, subject = _scope(org, key_id)
    settings = load(config)
    store = store_for(config, settings)
    try:
        view = show_policy(store.tenancy, store.policies, scope, subject, home=settings.server.jurisdiction)
    finally:
        store.close()
    show_view(view, as_json)


def show_view(view: PolicyView, as_json: bool) -> None:
    from onshore.admin.policy import policy_json  # noqa: PLC0415

    data = policy_json(view)
    if as_json:
        print_json(data)
        return
    # "-": not set here; an effective pii_types of null is every type the detector knows.
    effective = {**data["effective"], "pii_types": data["effective"]["pii_types"] or "all"}
    if view.key is None:
        click.echo(f"organisation {view.org.name} ({view.org.id})")
        print_table(
            ["setting", "set", "effective"], [(n, _cell(data[n]), _cell(effective[n])) for n in _ROWS]
        )
        return
    click.echo(f"key {view.key.id} of organisation {view.org.name}")
    org_policy = data["org_policy"]
    rows = [(n, _cell(data[n]), _cell(org_policy[n]), _cell(effective[n])) for n in _ROWS]
    print_table(["setting", "key", "organisation", "effective"], rows)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)
