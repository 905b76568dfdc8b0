"""What the fleet is doing now: each backend, its health, what it serves and its fair queues.

Shared by the admin API (``GET /admin/v1/backends``) and the console's Backends page, so both show the
same thing. Per backend: whether it answers (probed live, or as the health prober last saw it, which
answers at once even while an engine hangs) and the requests it is serving (``in_flight``). Per model
with a capacity (``max_in_flight``), under each backend that serves it: the model's places and
requests in them, the requests waiting, and the tokens served so far by organisation and tier. A
model's queue is shared by every backend serving it and counts this replica only; ``queued`` on the
backend sums its models' waiting requests (null when none of its models has a capacity). Fields are
only ever added.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from onshore.gateway.fair_queue import ModelQueueStats
from onshore.services import Services

__all__ = ["backends_status", "queue_json"]


async def backends_status(services: Services, *, probe: bool = True) -> list[dict[str, Any]]:
    """Every backend as the admin API shows it (see the module docstring)."""
    states = services.router.states
    if probe:
        results = await asyncio.gather(*(b.check_health() for b in services.backends), return_exceptions=True)
        reachable = [result is True for result in results]
    else:
        reachable = [states[b.name].healthy for b in services.backends]
    queues = services.queue.stats() if services.queue is not None else {}
    out = []
    for backend, answers in zip(services.backends, reachable, strict=True):
        models = services.router.models_of(backend.name)
        routes = [r for m in models for r in services.router.routes_for(m) if r.backend == backend.name]
        mine = [
            queue_json(model, queues[model], services.keys.org_name) for model in models if model in queues
        ]
        out.append(
            {
                "name": backend.name,
                "kind": backend.kind,
                "models": models,
                "jurisdiction": routes[0].jurisdiction if routes else services.settings.server.jurisdiction,
                "operator": routes[0].operator if routes else None,
                "reachable": answers,
                "in_flight": states[backend.name].in_flight,
                "queued": sum(q["queued"] for q in mine) if mine else None,
                "queues": mine,
            }
        )
    return out


def queue_json(model: str, stats: ModelQueueStats, org_name: Callable[[str], str]) -> dict[str, Any]:
    """One model's fair queue; organisations by name (``org_name(org_id)``), most first."""
    waiting = [
        {"org": org_name(org_id), "tier": tier.value, "requests": n}
        for (org_id, tier), n in stats.waiting_by.items()
        if n > 0
    ]
    served = [
        {"org": org_name(org_id), "tier": tier.value, "tokens": n}
        for (org_id, tier), n in stats.served_tokens.items()
    ]
    return {
        "model": model,
        "capacity": stats.capacity,
        "in_flight": stats.in_flight,
        "queued": stats.waiting,
        "waiting": sorted(waiting, key=lambda w: (-w["requests"], w["org"], w["tier"])),
        "served_tokens": sorted(served, key=lambda s: (-s["tokens"], s["org"], s["tier"])),
    }
