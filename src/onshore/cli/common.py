"""What every command shares: --config, --json, settings loading and the one mapping of user errors."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from onshore.bootstrap import Store
    from onshore.config.settings import Settings

_DATABASE_LIBRARIES = frozenset({"sqlalchemy", "alembic", "psycopg", "sqlite3"})


def _find_config(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    # --config, then ONSHORE_CONFIG (click reads it), then the ./onshore.yaml `onshore init` wrote:
    # without this last step `onshore orgs create` after `onshore init` wrote to another database
    # than the `onshore serve --config onshore.yaml` beside it (issue 15).
    if value is not None:
        return value
    from onshore.config.loading import discover_config  # noqa: PLC0415 - keep --help fast

    found = discover_config()
    return str(found) if found is not None else None


config_option = click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False, path_type=str),
    envvar="ONSHORE_CONFIG",
    default=None,
    callback=_find_config,
    help="YAML config file (or ONSHORE_CONFIG; default ./onshore.yaml if present, else built-in defaults).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document to stdout.")


class Group(click.Group):
    """A command group that applies ``user_message`` to whatever its subcommands raise.

    The root group and every subgroup use it, so the mapping holds however a command is reached
    (``onshore keys create`` or a test invoking the ``keys`` group) and no command can forget it.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Abort, click.exceptions.Exit):
            raise
        except Exception as exc:
            message = user_message(exc)
            if message is not None:
                raise click.ClickException(message) from None
            # A bug: named, with its frames but without any exception message (they can carry
            # secrets), exit 1. ``from None`` keeps click from printing the original traceback.
            from onshore.observability.logging import redacted_traceback  # noqa: PLC0415

            click.echo("\n".join(redacted_traceback(exc)), err=True)
            click.echo(
                f"Error: unexpected {type(exc).__name__}: a bug in onshore, please report it", err=True
            )
            sys.exit(1)


def user_message(exc: BaseException) -> str | None:
    """The one line a user error becomes on stderr, or None for an unexpected exception (a bug).

    The single mapping for every command: ``Group.invoke`` applies it, so a command cannot
    forget it. Errors of our own carry messages written for the operator; ``ValueError`` (the
    planner's errors included) and ``OSError`` are problems with what the operator gave us.
    """
    from onshore.errors import OnshoreError  # noqa: PLC0415 - keep --help fast
    from onshore.ports import StoreError  # noqa: PLC0415

    if isinstance(exc, OnshoreError):
        return exc.message
    if isinstance(exc, StoreError):
        return f"database error: {exc}"
    if type(exc).__module__.partition(".")[0] in _DATABASE_LIBRARIES:
        # Migrations and engine set-up raise the driver's own errors; their text can hold the URL
        # with its password, so only the type is shown.
        return f"database error ({type(exc).__name__}): check database.url and that the database is reachable"
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or type(exc).__name__}{where}"
    if isinstance(exc, ValueError):
        return str(exc) or type(exc).__name__
    return None


def load(config: str | None) -> Settings:
    from onshore.config.loading import CONFIG_ENV, config_above, load_settings  # noqa: PLC0415

    settings = load_settings(config)
    if config is None and not os.environ.get(CONFIG_ENV):
        _say_defaults(settings, config_above())
    return settings


def _say_defaults(settings: Settings, above: Path | None) -> None:
    # Not the obvious database: say which one, on stderr so `--json` output stays one document.
    # A URL can hold a password, so only the SQLite file is named, never a configured URL.
    database = "from database.url" if settings.database.url else str(settings.data_dir / "onshore.db")
    hint = f"; {above} exists: pass --config {above} to use it" if above is not None else ""
    click.echo(
        f"note: no --config and no ./onshore.yaml: using built-in defaults, database {database}{hint}",
        err=True,
    )


def store_for(config: str | None, settings: Settings | None = None) -> Store:
    from onshore.bootstrap import open_store  # noqa: PLC0415

    return open_store(settings if settings is not None else load(config))


def print_json(value: Any) -> None:
    import orjson  # noqa: PLC0415

    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    click.echo("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    if not rows:
        click.echo("(none)")


def cli_actor() -> str:
    """Who the audit trail says made a change from the command line: ``cli:<login name>``."""
    import getpass  # noqa: PLC0415

    try:
        return "cli:" + getpass.getuser()[:64]
    except (OSError, KeyError):  # no login name (a container without a passwd entry)
        return "cli"
