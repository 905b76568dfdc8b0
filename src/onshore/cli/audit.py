"""``onshore audit``: the audit trail. ``list`` (also plain ``onshore audit``), ``verify`` its hash
chain, ``export`` a month for an auditor, sign a ``checkpoint`` (docs/audit.md)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import click

from onshore.cli.audit_verify import verify
from onshore.cli.common import Group, config_option, json_option, load, print_json, print_table, store_for

_org_option = click.option("--org", default=None, help="Only this organisation's entries.")
_since_option = click.option(
    "--since", default=None, metavar="DATE|DATETIME", help="Only entries from then on (UTC unless it says)."
)
_limit_option = click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)


@click.group(cls=Group, invoke_without_command=True)
@_org_option
@_since_option
@_limit_option
@config_option
@json_option
@click.pass_context
def audit(
    ctx: click.Context, org: str | None, since: str | None, limit: int, config: str | None, as_json: bool
) -> None:
    """The audit trail: list it (the default), verify its hash chain, export a month, sign checkpoints."""
    if ctx.invoked_subcommand is None:
        _list(org, since, limit, config, as_json)


@audit.command("list")
@_org_option
@_since_option
@_limit_option
@config_option
@json_option
def list_command(org: str | None, since: str | None, limit: int, config: str | None, as_json: bool) -> None:
    """Show who changed what, and when (newest first)."""
    _list(org, since, limit, config, as_json)


def _list(org: str | None, since: str | None, limit: int, config: str | None, as_json: bool) -> None:
    from onshore.admin.audit import audit_json, find_entries  # noqa: PLC0415

    store = store_for(config)
    try:
        entries = find_entries(store.audit_trail, store.tenancy, org_name=org, since=since, limit=limit)
    finally:
        store.close()
    if as_json:
        print_json({"object": "list", "data": [audit_json(e) for e in entries]})
        return
    print_table(
        ("seq", "at", "actor", "action", "target", "org"),
        [
            (e.seq, e.at.isoformat(timespec="seconds"), e.actor, e.action, e.target_id, e.org_id)
            for e in entries
        ],
    )


@audit.command()
@click.option("--month", required=True, metavar="YYYY-MM", help="The UTC month.")
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Default: stdout.")
@config_option
def export(month: str, fmt: str, out: Path | None, config: str | None) -> None:
    """Every entry of a month in seq order, one JSON object a line, with seq, prev_hash and hash.

    `onshore audit verify --input FILE` re-verifies the file offline.
    """
    from onshore.admin.audit_chain import entry_json, export_month  # noqa: PLC0415
    from onshore.bootstrap import open_store  # noqa: PLC0415

    store = open_store(load(config), migrate=False)  # reading only: an auditor may not migrate
    try:
        with _output(out) as handle:
            count = 0
            for entry in export_month(store.audit_trail, month):
                handle.write(_line(entry_json(entry)))
                count += 1
    finally:
        store.close()
    click.echo(f"exported {count} entries of {month}" + (f" to {out}" if out else ""), err=True)


@audit.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Default: stdout.")
@config_option
def checkpoint(out: Path | None, config: str | None) -> None:
    """Sign the chain's head with the audit key; store it and print it as JSON.

    Keep the file where whoever can write the database cannot (an auditor's own storage):
    `onshore audit verify --checkpoint FILE` then shows that no entry up to it was removed or
    rewritten since.
    """
    from datetime import UTC, datetime  # noqa: PLC0415

    from onshore.admin.audit_chain import checkpoint_json, sign_checkpoint  # noqa: PLC0415
    from onshore.bootstrap.audit import load_signer  # noqa: PLC0415

    settings = load(config)
    signer = load_signer(settings, create=True)
    if signer is None:  # pragma: no cover - create=True always gives a signer
        raise click.ClickException("no audit signing key")
    store = store_for(config, settings)
    try:
        made = sign_checkpoint(store.audit_trail, signer, datetime.now(UTC))
    finally:
        store.close()
    if out is None:
        print_json(checkpoint_json(made))
        return
    import orjson  # noqa: PLC0415

    out.write_bytes(orjson.dumps(checkpoint_json(made), option=orjson.OPT_INDENT_2) + b"\n")
    click.echo(f"checkpoint at seq {made.seq} written to {out}", err=True)


audit.add_command(verify)


def _line(value: object) -> str:
    import json  # noqa: PLC0415

    # Sorted keys and ASCII: the same bytes every time, whatever the platform.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True) + "\n"


@contextlib.contextmanager
def _output(path: Path | None) -> Iterator[TextIO]:
    if path is None:
        yield sys.stdout
        return
    with path.open("w", encoding="ascii") as handle:
        yield handle
