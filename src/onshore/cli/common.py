"""What every command shares: --config, --json, settings loading and one-line user errors."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import click

if TYPE_CHECKING:
    from onshore.bootstrap import Store
    from onshore.config.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")

config_option = click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False, path_type=str),
    envvar="ONSHORE_CONFIG",
    default=None,
    help="YAML config file (or ONSHORE_CONFIG). Without one, embedded defaults are used.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document to stdout.")


def user_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn our errors into click's: exit 1, one line on stderr, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from onshore.errors import OnshoreError  # noqa: PLC0415 - keep --help fast
        from onshore.ports import StoreError  # noqa: PLC0415

        try:
            return func(*args, **kwargs)
        except OnshoreError as exc:
            raise click.ClickException(exc.message) from None
        except StoreError as exc:
            raise click.ClickException(f"database error: {exc}") from None

    return wrapper


def load(config: str | None) -> Settings:
    from onshore.config.loading import load_settings  # noqa: PLC0415

    return load_settings(config)


def store_for(config: str | None) -> Store:
    from onshore.bootstrap import open_store  # noqa: PLC0415

    return open_store(load(config))


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
