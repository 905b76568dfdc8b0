"""``onshore db upgrade`` (and ``onshore db current``)."""

from __future__ import annotations

from pathlib import Path

import click

from onshore.cli.common import Group, config_option, json_option, load, print_json


@click.group(cls=Group)
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
@config_option
def upgrade(config: str | None) -> None:
    """Apply every migration up to the newest."""
    from onshore.bootstrap import migrate_database  # noqa: PLC0415

    click.echo(f"database {migrate_database(load(config))}")


@db.command("backup")
@click.option(
    "--to",
    "target",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The new file to write (never overwritten).",
)
@config_option
def backup(target: Path, config: str | None) -> None:
    """Copy the SQLite database while the gateway runs (PostgreSQL: use pg_dump; docs/operations.md)."""
    from onshore.bootstrap.operator import backup_database  # noqa: PLC0415

    click.echo(backup_database(load(config), target))


@db.command("current")
@config_option
@json_option
def current(config: str | None, as_json: bool) -> None:
    """Show the database's migration revision."""
    from onshore.bootstrap import database_revision  # noqa: PLC0415

    revision, head = database_revision(load(config))
    if as_json:
        print_json({"current": revision, "head": head, "at_head": revision == head})
    else:
        click.echo(f"current {revision or '(empty)'}; head {head}")
