"""``onshore backends list``: configured backends, probed live."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from onshore.cli.common import Group, config_option, json_option, load, print_json, print_table

if TYPE_CHECKING:
    from onshore.config.settings import BackendSettings, RemoteBackendSettings, Settings


@click.group(cls=Group)
def backends() -> None:
    """Inference backends."""


@backends.command("list")
@config_option
@json_option
def list_(config: str | None, as_json: bool) -> None:
    """List backends and whether each answers right now."""
    import asyncio  # noqa: PLC0415
    import os  # noqa: PLC0415

    from onshore.config.checks import backend_problem  # noqa: PLC0415

    settings = load(config)
    rows = asyncio.run(_probe(settings))
    # Reachable is not enough: an engine that answers health checks still refuses every request
    # when the key it needs is missing from this environment.
    for spec, row in zip(settings.backends, rows, strict=True):
        row["problem"] = backend_problem(spec, os.environ)
    if as_json:
        print_json(rows)
        return
    print_table(
        ["name", "kind", "target", "models", "reachable", "problem"],
        [
            (
                r["name"],
                r["kind"],
                r["target"],
                ",".join(r["models"]),
                "yes" if r["reachable"] else "NO",
                r["problem"] or "-",
            )
            for r in rows
        ],
    )
    if any(r["problem"] for r in rows):
        click.echo("warning: some backends cannot serve requests (see PROBLEM)", err=True)


async def _probe(settings: Settings) -> list[dict[str, Any]]:
    import asyncio  # noqa: PLC0415

    from onshore.config.settings import RemoteBackendSettings  # noqa: PLC0415

    out: list[dict[str, Any]] = []
    checks = []
    for spec in settings.backends:
        if isinstance(spec, RemoteBackendSettings):
            checks.append(_check_remote(spec))
            target = str(spec.url)
        else:
            checks.append(_check_embedded(spec))
            target = str(getattr(spec, "path", None) or getattr(spec, "package", None) or "embedded")
        out.append(
            {"name": spec.name, "kind": spec.kind, "target": target, "models": [m.name for m in spec.models]}
        )
    results = await asyncio.gather(*checks)
    for row, ok in zip(out, results, strict=True):
        row["reachable"] = ok
    return out


async def _check_remote(spec: RemoteBackendSettings) -> bool:
    from onshore.bootstrap import probe_remote_backend  # noqa: PLC0415 - aiohttp only for this command

    return await probe_remote_backend(spec)


async def _check_embedded(spec: BackendSettings) -> bool:
    # Loading a model just to list it would take seconds: check that what it loads can be found.
    import importlib.util  # noqa: PLC0415

    path = getattr(spec, "path", None)
    if path is not None:
        return bool(path.is_file())
    package = getattr(spec, "package", None)
    return importlib.util.find_spec(package or "onnxruntime") is not None
