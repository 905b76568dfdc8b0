"""Liveness, readiness (named checks, never an exception text) and Prometheus metrics."""

from __future__ import annotations

import asyncio

from onshore.api.http import send_bytes, send_json
from onshore.api.types import Send
from onshore.bootstrap import Services
from onshore.ports import StoreError

_PROMETHEUS = b"text/plain; version=0.0.4; charset=utf-8"


async def healthz(send: Send, request_id: str) -> None:
    await send_json(send, 200, {"status": "ok"}, request_id)


async def readyz(services: Services, send: Send, request_id: str) -> None:
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
    await send_json(send, 200 if not failing else 503, body, request_id)


async def metrics(services: Services, send: Send, request_id: str) -> None:
    await send_bytes(send, 200, services.metrics.render(), request_id, content_type=_PROMETHEUS)
