"""``onshore keys create|list|revoke|rehash-status``."""

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
from onshore.cli.policy import jurisdictions_flag

if TYPE_CHECKING:
    from onshore.config.settings import Settings


@click.group(cls=Group)
def keys() -> None:
    """Create, list and revoke partner API keys."""


@keys.command("create")
@click.option("--org", "org", required=True, help="The organisation the key belongs to.")
@click.option("--name", default=None, help="A label for the key.")
@click.option("--models", default=None, help="Comma-separated allow-list of models (default: all).")
@click.option("--expires-in", "expires_in", default=None, help="Lifetime, e.g. 30d, 12h, 2w (default: none).")
@click.option(
    "--jurisdictions",
    default=None,
    callback=jurisdictions_flag,
    metavar="CODES",
    help="Narrow where this key's data may be processed, e.g. KR (default: its organisation's).",
)
@config_option
@json_option
def create(
    org: str,
    name: str | None,
    models: str | None,
    expires_in: str | None,
    jurisdictions: str | None,
    config: str | None,
    as_json: bool,
) -> None:
    """Create a key. The secret is printed this once only."""
    from onshore.admin.tenancy import create_key, key_json  # noqa: PLC0415

    settings = load(config)
    store = store_for(config, settings)
    try:
        new = create_key(
            store.tenancy,
            store.digester,
            org,
            name=name,
            models=models.split(",") if models is not None else None,
            expires_in=expires_in,
            jurisdictions=jurisdictions,
            policies=store.policies,
            home=settings.server.jurisdiction,
            actor=cli_actor(),
        )
    finally:
        store.close()
    if jurisdictions is not None:
        announce(settings)
    if as_json:
        print_json({**key_json(new.key), "key": new.secret, "jurisdictions": _codes(jurisdictions)})
        return
    click.echo(f"created key {new.key.id} for {org}")
    click.echo(f"  {new.secret}")
    click.echo("Store it now: it cannot be shown again.", err=True)


@keys.command("list")
@click.option("--org", "org", default=None, help="Only this organisation's keys.")
@config_option
@json_option
def list_(org: str | None, config: str | None, as_json: bool) -> None:
    """List keys (never their secrets)."""
    from onshore.admin.tenancy import key_json, list_keys  # noqa: PLC0415

    store = store_for(config)
    try:
        found = list_keys(store.tenancy, org)
        names = {o.id: o.name for o in store.tenancy.list_orgs()}
    finally:
        store.close()
    if as_json:
        print_json([{**key_json(k), "org": names.get(k.org_id)} for k in found])
        return
    rows = [
        (
            k.id,
            names.get(k.org_id, k.org_id),
            k.name,
            k.prefix + "…",
            ",".join(k.models) if k.models is not None else "*",
            k.expires_at.isoformat(timespec="seconds") if k.expires_at else "-",
            "revoked" if k.revoked_at else "active",
        )
        for k in found
    ]
    print_table(["id", "org", "name", "prefix", "models", "expires", "state"], rows)


@keys.command("revoke")
@click.argument("key_id")
@config_option
@json_option
def revoke(key_id: str, config: str | None, as_json: bool) -> None:
    """Revoke a key; running gateways stop accepting it within a second."""
    import asyncio  # noqa: PLC0415

    from onshore.admin.tenancy import key_json, revoke_key  # noqa: PLC0415

    settings = load(config)
    store = store_for(config, settings)
    try:
        key = revoke_key(store.tenancy, key_id, actor=cli_actor())
    finally:
        store.close()
    asyncio.run(_publish(settings, key.id))
    if as_json:
        print_json(key_json(key))
    else:
        click.echo(f"revoked key {key.id}")


@keys.command("rehash-status")
@config_option
@json_option
def rehash_status(config: str | None, as_json: bool) -> None:
    """How many active keys are still hashed with a previous key-digest secret.

    When none is (and no key is "unrecorded"), the previous secrets can be dropped from
    security.previous_secrets_env (docs/operators.md).
    """
    from onshore.admin.key_rehash import rehash_status as status  # noqa: PLC0415

    store = store_for(config)
    try:
        report = status(store.tenancy, store.digester)
    finally:
        store.close()
    if as_json:
        print_json(report)
        return
    click.echo(f"current secret {report['current']}: {report['current_keys']} key(s)")
    for secret_id, count in sorted(report["previous"].items()):
        click.echo(f"previous secret {secret_id}: {count} key(s) still to re-hash")
    if report["other"]:
        click.echo(f"a secret no longer configured: {report['other']} key(s) (they cannot authenticate)")
    if report["unrecorded"]:
        click.echo(
            f"unrecorded generation: {report['unrecorded']} key(s) made before 0009 and not used since"
        )
    click.echo("old secrets can be dropped" if report["done"] else "keep the previous secrets for now")


def _codes(jurisdictions: str | None) -> list[str] | None:
    return jurisdictions.split(",") if jurisdictions is not None else None


async def _publish(settings: Settings, key_id: str) -> None:
    """With Redis configured, tell every replica now; without it they poll the database."""
    from onshore.bootstrap import publish_revocation  # noqa: PLC0415

    if await publish_revocation(settings, key_id) is False:
        click.echo("warning: could not notify replicas through Redis; they will see it by polling", err=True)
