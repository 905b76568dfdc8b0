"""``onshore db upgrade`` (and ``onshore db current``)."""

from __future__ import annotations

import click

from onshore.cli.common import config_option, json_option, load, print_json, user_errors


@click.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
@config_option
@user_errors
def upgrade(config: str | None) -> None:
    """Apply every migration up to the newest."""
    from onshore.store.sql import migrate  # noqa: PLC0415
    from onshore.store.sql.engine import redact_url  # noqa: PLC0415

    settings = load(config)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.database_url)
    click.echo(f"database {redact_url(settings.database_url)} is at {migrate.head_revision()}")


@db.command("current")
@config_option
@json_option
@user_errors
def current(config: str | None, as_json: bool) -> None:
    """Show the database's migration revision."""
    from onshore.store.sql import migrate  # noqa: PLC0415

    settings = load(config)
    revision = migrate.current_revision(settings.database_url)
    head = migrate.head_revision()
    if as_json:
        print_json({"current": revision, "head": head, "at_head": revision == head})
    else:
        click.echo(f"current {revision or '(empty)'}; head {head}")
