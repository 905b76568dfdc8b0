"""``onshore operators create|list|revoke|token``: operators of the admin API and the console.

These work on the database directly, like ``onshore keys``; the admin API's ``/admin/v1/operators``
does the same for an admin operator. A token is printed once and stored only as its SHA-256.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from onshore.ports import OperatorStore
    from onshore.services import Store

_ROLES = ("admin", "billing", "auditor")


@click.group(cls=Group)
def operators() -> None:
    """Create, list and revoke operators, and issue their tokens."""


@operators.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(_ROLES), required=True, help="What the operator may do.")
@click.option(
    "--grant", "grants", multiple=True, metavar="PERMISSION", help="An extra permission, e.g. audit:read."
)
@click.option(
    "--expires-in", "expires_in", default=None, help="The token's lifetime, e.g. 90d (default: none)."
)
@config_option
@json_option
def create(
    name: str, role: str, grants: tuple[str, ...], expires_in: str | None, config: str | None, as_json: bool
) -> None:
    """Create an operator and their first token. The token is printed this once only."""
    from onshore.admin import operators as ops  # noqa: PLC0415

    store = store_for(config)
    try:
        new = ops.create_operator(
            _operator_store(store), name, role, grants=grants, expires_in=expires_in, actor=cli_actor()
        )
    finally:
        store.close()
    if as_json:
        print_json({**ops.operator_json(new.operator, [new.token]), "token": new.secret})
        return
    click.echo(f"created operator {name} ({role})")
    click.echo(f"  {new.secret}")
    click.echo("Store it now: it cannot be shown again.", err=True)


@operators.command("token")
@click.argument("name")
@click.option(
    "--expires-in", "expires_in", default=None, help="The token's lifetime, e.g. 90d (default: none)."
)
@config_option
@json_option
def token(name: str, expires_in: str | None, config: str | None, as_json: bool) -> None:
    """Issue one more token for an operator (rotation: issue, switch, then revoke the old one)."""
    from onshore.admin import operators as ops  # noqa: PLC0415

    store = store_for(config)
    try:
        new = ops.issue_token(_operator_store(store), name, expires_in=expires_in, actor=cli_actor())
    finally:
        store.close()
    if as_json:
        print_json({**ops.token_json(new.token), "operator": name, "token": new.secret})
        return
    click.echo(f"issued token {new.token.id} for {name}")
    click.echo(f"  {new.secret}")
    click.echo("Store it now: it cannot be shown again.", err=True)


@operators.command("list")
@config_option
@json_option
def list_(config: str | None, as_json: bool) -> None:
    """List operators and their tokens (never a token itself)."""
    from onshore.admin import operators as ops  # noqa: PLC0415

    store = store_for(config)
    try:
        found = ops.list_operators(_operator_store(store))
    finally:
        store.close()
    if as_json:
        print_json([ops.operator_json(op, tokens) for op, tokens in found])
        return
    rows = [
        (
            op.name,
            op.role,
            ",".join(op.grants) or "-",
            str(sum(1 for t in tokens if t.revoked_at is None)),
            "revoked" if op.revoked_at else "active",
        )
        for op, tokens in found
    ]
    print_table(["name", "role", "grants", "tokens", "state"], rows)


@operators.command("revoke")
@click.argument("name")
@click.option("--token", "token_id", default=None, help="Revoke only this token (opt_…), not the operator.")
@config_option
@json_option
def revoke(name: str, token_id: str | None, config: str | None, as_json: bool) -> None:
    """Revoke an operator and all their tokens (or one token); servers refuse them within a second."""
    from onshore.admin import operators as ops  # noqa: PLC0415

    store = store_for(config)
    try:
        operator, tokens = ops.revoke(_operator_store(store), name, token_id=token_id, actor=cli_actor())
    finally:
        store.close()
    if as_json:
        print_json(ops.operator_json(operator, tokens))
    elif token_id is None:
        click.echo(f"revoked operator {name} and their tokens")
    else:
        click.echo(f"revoked token {token_id} of {name}")


def _operator_store(store: Store) -> OperatorStore:
    found = store.operators
    if found is None:  # pragma: no cover - open_store always sets it
        raise click.ClickException("this database has no operator store")
    return found
