"""``onshore orgs create NAME [--jurisdictions KR,JP]``, ``onshore orgs set NAME --jurisdictions KR``
and ``onshore orgs list``."""

from __future__ import annotations

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
from onshore.cli.policy import jurisdictions_flag

_JURISDICTIONS_HELP = (
    "Where the organisation's data may be processed: ISO 3166-1 alpha-2 codes, e.g. KR,JP "
    "(default: the gateway's own, server.jurisdiction)."
)


@click.group(cls=Group)
def orgs() -> None:
    """Create, list and set partner organisations (jurisdictions)."""


@orgs.command("create")
@click.argument("name")
@click.option(
    "--jurisdictions", default=None, callback=jurisdictions_flag, metavar="CODES", help=_JURISDICTIONS_HELP
)
@config_option
@json_option
def create(name: str, jurisdictions: str | None, config: str | None, as_json: bool) -> None:
    """Create an organisation."""
    from onshore.admin.tenancy import create_org, org_json  # noqa: PLC0415

    settings = load(config)
    store = store_for(config, settings)
    try:
        org = create_org(store.tenancy, name, jurisdictions=jurisdictions, actor=cli_actor())
    finally:
        store.close()
    if jurisdictions is not None:
        announce(settings)
    if as_json:
        print_json({**org_json(org), "jurisdictions": jurisdictions.split(",") if jurisdictions else None})
        return
    where = jurisdictions or f"{settings.server.jurisdiction} (the gateway's own)"
    click.echo(f"created organisation {org.name} ({org.id}); data may be processed in {where}")


@orgs.command("set")
@click.argument("name")
@click.option(
    "--jurisdictions",
    required=True,
    callback=jurisdictions_flag,
    metavar="CODES",
    help="Where the organisation's data may be processed from now on, e.g. KR or KR,JP.",
)
@config_option
@json_option
def set_(name: str, jurisdictions: str, config: str | None, as_json: bool) -> None:
    """Change an organisation's jurisdictions; its keys are held to what remains of theirs."""
    from onshore.admin.policy import policy_json, set_org_jurisdictions  # noqa: PLC0415

    settings = load(config)
    store = store_for(config, settings)
    try:
        view = set_org_jurisdictions(
            store.tenancy,
            store.policies,
            name,
            jurisdictions,
            home=settings.server.jurisdiction,
            actor=cli_actor(),
        )
    finally:
        store.close()
    announce(settings)
    if as_json:
        print_json(policy_json(view))
        return
    where = ",".join(sorted(view.effective.jurisdictions))
    click.echo(f"organisation {view.org.name}: data may be processed in {where}")


@orgs.command("list")
@config_option
@json_option
def list_(config: str | None, as_json: bool) -> None:
    """List organisations."""
    from onshore.admin.tenancy import org_json  # noqa: PLC0415

    store = store_for(config)
    try:
        found = store.tenancy.list_orgs()
    finally:
        store.close()
    if as_json:
        print_json([org_json(o) for o in found])
    else:
        print_table(
            ["id", "name", "created"],
            [(o.id, o.name, o.created_at.isoformat(timespec="seconds")) for o in found],
        )
