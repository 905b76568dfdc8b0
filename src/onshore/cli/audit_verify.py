"""``onshore audit verify``: is the audit trail intact? Exit 0 when it is, 1 naming the first bad
entry otherwise (docs/audit.md says what this proves and what it cannot)."""

from __future__ import annotations

from pathlib import Path

import click

from onshore.cli.common import config_option, json_option, load, print_json


@click.command()
@click.option(
    "--checkpoint",
    "checkpoint_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A checkpoint kept outside the database (`audit checkpoint --out`); repeatable.",
)
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    metavar="KEY|FILE",
    help="A trusted Ed25519 public key (hex, base64 or PEM, or a file holding one); repeatable.",
)
@click.option(
    "--input",
    "export_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Verify an `audit export` file offline instead of the database.",
)
@config_option
@json_option
def verify(
    checkpoint_files: tuple[Path, ...],
    public_keys: tuple[str, ...],
    export_file: Path | None,
    config: str | None,
    as_json: bool,
) -> None:
    """Walk the hash chain and check every checkpoint against it.

    Shows an edited, inserted, deleted or reordered entry. A cut tail or a chain rebuilt with valid
    hashes shows only against a checkpoint signed before: keep some with --checkpoint.

    Checkpoint signatures are checked with --public-key, audit.public_keys and the public half of
    the configured signing key (when this machine has it); the key inside a checkpoint file is
    never trusted.
    """
    from onshore.admin.audit_chain import (  # noqa: PLC0415
        read_checkpoints,
        verdict_json,
        verify_export,
        verify_trail,
    )
    from onshore.bootstrap import open_store  # noqa: PLC0415
    from onshore.bootstrap.audit import signature_check, trusted_keys  # noqa: PLC0415

    settings = load(config)
    trusted = trusted_keys(settings, [_key_text(value) for value in public_keys])
    kept = [c for path in checkpoint_files for c in read_checkpoints(path.read_text("utf-8"), str(path))]
    if kept and not trusted:
        ids = ", ".join(sorted({c.key_id for c in kept}))
        raise click.UsageError(
            f"no public key to check the checkpoints' signatures with (they name key {ids}): "
            "pass --public-key or set audit.public_keys"
        )
    check = signature_check(trusted) if trusted else None
    if export_file is not None:
        with export_file.open(encoding="ascii") as lines:
            verdict = verify_export(lines, check, kept)
    else:
        store = open_store(settings, migrate=False)  # reading only: an auditor may not migrate
        try:
            verdict = verify_trail(store.audit_trail, check, kept)
        finally:
            store.close()
    if as_json:
        print_json({**verdict_json(verdict), "signatures_checked": check is not None})
    elif verdict.problem is None:
        click.echo(
            f"intact: {verdict.entries} entries, head seq {verdict.head_seq} hash {verdict.head_hash}; "
            f"{verdict.checkpoints} checkpoint(s) matched"
        )
    else:
        problem = verdict.problem
        where = "the chain" if problem.seq is None and problem.entry_id is None else "entry"
        if problem.seq is not None:
            where += f" seq {problem.seq}"
        if problem.entry_id is not None:
            where += f" (id {problem.entry_id})"
        click.echo(f"NOT INTACT: {where}: {problem.reason}")
    if check is None and verdict.checkpoints and not as_json:
        click.echo("note: no trusted public key here, so checkpoint signatures were not checked", err=True)
    if verdict.problem is not None:
        raise click.exceptions.Exit(1)


def _key_text(value: str) -> str:
    """``--public-key`` is a key, or the name of a file that holds one (a PEM file, usually)."""
    path = Path(value)
    if len(value) < 4096 and "-----BEGIN" not in value and path.is_file():
        return path.read_text("ascii")
    return value
