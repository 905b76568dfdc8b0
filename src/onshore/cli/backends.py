"""``onshore backends list``: configured backends, probed live, and what the running server is doing.

IN-FLIGHT and QUEUED come from the server this config describes (``server.host``/``server.port``),
asked through its admin API with ``ONSHORE_OPERATOR_TOKEN`` (or the token of ``admin.token_env``)
and a short timeout. They show ``-`` when no server answers (not running, another port, no token,
a token it refuses): the listing never fails or waits long because of it. QUEUED is the requests
waiting in the fair queues of the backend's models that have a capacity (``-``: none has); a
model's queue is shared by every backend serving it, and the figures are that one server's (one
replica).
"""

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

    from onshore.cli.server_view import server_token  # noqa: PLC0415
    from onshore.config.checks import backend_problem  # noqa: PLC0415

    settings = load(config)
    rows, live = asyncio.run(_probe_and_ask(settings, server_token(settings.admin.token_env)))
    # Reachable is not enough: an engine that answers health checks still refuses every request
    # when the key it needs is missing from this environment.
    for spec, row in zip(settings.backends, rows, strict=True):
        row["problem"] = backend_problem(spec, os.environ)
        served = (live or {}).get(spec.name, {})
        # Added fields only (null when the server did not answer), so --json readers keep working.
        row["in_flight"] = served.get("in_flight")
        row["queued"] = served.get("queued")
        row["queues"] = served.get("queues")
    if as_json:
        print_json(rows)
        return
    print_table(
        ["name", "kind", "jurisdiction", "target", "models", "reachable", "in-flight", "queued", "problem"],
        [
            (
                r["name"],
                r["kind"],
                r["jurisdiction"],
                r["target"],
                ",".join(r["models"]),
                "yes" if r["reachable"] else "NO",
                _count(r["in_flight"]),
                _count(r["queued"]),
                r["problem"] or "-",
            )
            for r in rows
        ],
    )
    if any(r["problem"] for r in rows):
        click.echo("warning: some backends cannot serve requests (see PROBLEM)", err=True)


def _count(value: object) -> str:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else "-"


async def _probe_and_ask(
    settings: Settings, admin_token: str | None
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]] | None]:
    import asyncio  # noqa: PLC0415

    from onshore.cli.server_view import running_backends  # noqa: PLC0415

    asked = asyncio.to_thread(running_backends, settings.server.host, settings.server.port, admin_token)
    rows, live = await asyncio.gather(_probe(settings), asked)
    return rows, live


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
            {
                "name": spec.name,
                "kind": spec.kind,
                "target": target,
                "models": [m.name for m in spec.models],
                # where it processes data: embedded ones and undeclared remote ones are the gateway's own
                "jurisdiction": spec.jurisdiction or settings.server.jurisdiction,
                "operator": spec.operator,
            }
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
