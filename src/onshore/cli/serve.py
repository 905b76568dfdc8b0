"""``onshore serve``: run the gateway under uvicorn (uvloop + httptools)."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import click

from onshore.cli.common import config_option, load

EDGE_PROTOCOL = "onshore.api.edge:EdgeProtocol"
# prometheus_client's variable (onshore.bootstrap.observability reads it in each worker).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
STARTUP_FAILURE = 3  # uvicorn's exit status when the app did not start


@click.command()
@config_option
@click.option("--host", default=None, help="Interface to listen on (server.host; default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (server.port; default 8080).")
@click.option(
    "--workers", type=click.IntRange(1, 256), default=None, help="Worker processes (server.workers)."
)
def serve(config: str | None, host: str | None, port: int | None, workers: int | None) -> None:
    """Run the gateway: the OpenAI-compatible API, the admin API, health and metrics."""
    # Workers are separate processes that load the settings themselves: hand them the same
    # file and the flags as environment overrides, so every worker sees one configuration.
    if config:
        os.environ["ONSHORE_CONFIG"] = str(Path(config).resolve())
    if host is not None:
        os.environ["ONSHORE_SERVER__HOST"] = host
    if port is not None:
        os.environ["ONSHORE_SERVER__PORT"] = str(port)
    if workers is not None:
        os.environ["ONSHORE_SERVER__WORKERS"] = str(workers)
    settings = load(None)  # validate now: a bad key fails here with one line, before any worker starts

    from onshore.config.checks import port_problem  # noqa: PLC0415

    # Before anything loads: a port in use used to surface only after the models had loaded, as
    # exit 3 and a JSON line. Now it is one line and exit 1, at once (issue 15).
    problem = port_problem(settings.server.host, settings.server.port)
    if problem is not None:
        raise click.ClickException(problem)

    import uvicorn  # noqa: PLC0415 - only the server needs it

    from onshore.cli import draining  # noqa: PLC0415 - imports uvicorn
    from onshore.observability.logging import configure_logging  # noqa: PLC0415

    configure_logging(settings.logging.level, settings.logging.format)
    server = settings.server
    metrics_dir = _metrics_directory(server.workers)
    server_config = uvicorn.Config(
        "onshore.api.factory:create_app",
        factory=True,
        host=server.host,
        port=server.port,
        workers=server.workers,
        loop="uvloop",
        # uvicorn's httptools protocol with what it lacks: the header limit, read timeouts, JSON
        # errors, HTTP/1.0 framing, the access log. By import path (uvicorn >= 0.35): the CLI does not
        # import the web face, and each worker reads server.* itself, as it does for the app.
        http=EDGE_PROTOCOL,
        lifespan="on",
        access_log=False,  # the edge writes the access log itself, when server.access_log says so
        log_config=None,
        server_header=False,
    )
    times = draining.DrainTimes(delay_s=server.drain_delay_s, grace_s=server.drain_s)
    try:
        started = draining.run(server_config, times)  # drains on SIGTERM (docs/upgrades.md)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    if not started:
        sys.exit(STARTUP_FAILURE)


def _metrics_directory(workers: int) -> Path | None:
    """With several workers, a fresh directory for their metric files (docs/observability.md).

    prometheus_client reads ``PROMETHEUS_MULTIPROC_DIR`` when first imported, so it is set here,
    before any worker starts. Fresh per start: files of a previous run would add its counts, and a
    reused pid would continue a dead worker's values. One set by the operator is the parent (e.g. a
    tmpfs). With one worker the variable is removed: one process needs no files.
    """
    if workers <= 1:
        os.environ.pop(MULTIPROC_ENV, None)
        return None
    parent = os.environ.get(MULTIPROC_ENV) or None
    if parent is not None:
        Path(parent).mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="onshore-metrics-", dir=parent))
    os.environ[MULTIPROC_ENV] = str(path)
    return path
