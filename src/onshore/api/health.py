"""Liveness, readiness (named checks, never an exception text) and Prometheus metrics."""

from __future__ import annotations

from onshore.api.http import Exchange
from onshore.services import Services

_PROMETHEUS = b"text/plain; version=0.0.4; charset=utf-8"


async def healthz(exchange: Exchange) -> None:
    await exchange.reply_json(200, {"status": "ok"})


async def readyz(services: Services, exchange: Exchange) -> None:
    """Every registered check by name; 503 naming the failing ones (words, never exception texts)."""
    results = await services.lifecycle.readiness()
    checks = {name: check.detail for name, check in results.items()}
    failing = [name for name, check in results.items() if not check.ok]
    body = {"status": "ok" if not failing else "failing", "checks": checks, "failing": failing}
    await exchange.reply_json(200 if not failing else 503, body)


async def metrics(services: Services, exchange: Exchange) -> None:
    await exchange.reply(200, services.render_metrics(), content_type=_PROMETHEUS)
