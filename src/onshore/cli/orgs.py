"""``onshore orgs create NAME`` and ``onshore orgs list``."""

from __future__ import annotations

import click

from onshore.cli.common import (
    Group,
    cli_actor,
    config_option,
    json_option,
    print_json,
    print_table,
    store_for,
)


@click.group(cls=Group)
def orgs() -> None:
    """Create and list partner organisations."""


@orgs.command("create")
@click.argument("name")
@config_option
@json_option
def create(name: str, config: str | None, as_json: bool) -> None:
    """Create an organisation."""
    from onshore.admin.tenancy import create_org, org_json  # noqa: PLC0415

    store = store_for(config)
    try:
        org = create_org(store.tenancy, name, actor=cli_actor())
    finally:
        store.close()
    if as_json:
        print_json(org_json(org))
    else:
        click.echo(f"created organisation {org.name} ({org.id})")


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
