"""``onshore backends list``: configured backends, probed live."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from onshore.cli.common import config_option, json_option, load, print_json, print_table, user_errors

if TYPE_CHECKING:
    from onshore.config.settings import BackendSettings, RemoteBackendSettings, Settings


@click.group()
def backends() -> None:
    """Inference backends."""


@backends.command("list")
@config_option
@json_option
@user_errors
def list_(config: str | None, as_json: bool) -> None:
    """List backends and whether each answers right now."""
    import asyncio  # noqa: PLC0415

    settings = load(config)
    rows = asyncio.run(_probe(settings))
    if as_json:
        print_json(rows)
        return
    print_table(
        ["name", "kind", "target", "models", "reachable"],
        [
            (r["name"], r["kind"], r["target"], ",".join(r["models"]), "yes" if r["reachable"] else "NO")
            for r in rows
        ],
    )


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
    from onshore.backends.upstream import RemoteBackend  # noqa: PLC0415 - aiohttp only for this command

    backend = RemoteBackend(spec)
    await backend.start()
    try:
        return await backend.check_health()
    finally:
        await backend.aclose()


async def _check_embedded(spec: BackendSettings) -> bool:
    # Loading a model just to list it would take seconds: check that what it loads can be found.
    import importlib.util  # noqa: PLC0415

    path = getattr(spec, "path", None)
    if path is not None:
        return bool(path.is_file())
    package = getattr(spec, "package", None)
    return importlib.util.find_spec(package or "onnxruntime") is not None
