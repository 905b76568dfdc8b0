"""Liveness, readiness (named checks, never an exception text) and Prometheus metrics."""

from __future__ import annotations

import asyncio

from onshore.api.http import Exchange
from onshore.bootstrap import Services
from onshore.ports import StoreError

_PROMETHEUS = b"text/plain; version=0.0.4; charset=utf-8"


async def healthz(exchange: Exchange) -> None:
    await exchange.reply_json(200, {"status": "ok"})


async def readyz(services: Services, exchange: Exchange) -> None:
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(asyncio.to_thread(services.store.usage.ping), timeout=3.0)
        checks["database"] = "ok"
    except (StoreError, TimeoutError):
        checks["database"] = "failing"
    checks["keys"] = "ok" if services.key_sync.healthy else "stale"
    healthy_backends = sum(1 for s in services.router.states.values() if s.healthy)
    checks["backends"] = f"{healthy_backends}/{len(services.router.states)} healthy"
    failing = [name for name, value in checks.items() if value in ("failing", "stale")]
    status = "ok" if not failing else "failing"
    body = {"status": status, "checks": checks, "failing": failing}
    await exchange.reply_json(200 if not failing else 503, body)


async def metrics(services: Services, exchange: Exchange) -> None:
    await exchange.reply(200, services.metrics.render(), content_type=_PROMETHEUS)
