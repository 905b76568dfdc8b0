"""Counts partners' interactive requests in flight (``gateway/traffic.py``); a batch's are not counted.

The first admission step: a request counts once it was identified and allowed (a flood of bad keys
does not slow a batch down), and for as long as it holds anything, its wait in the fair queue included.
"""

from __future__ import annotations

from onshore.gateway.chain import Handler
from onshore.gateway.context import RequestContext
from onshore.gateway.traffic import InteractiveTraffic


class CountInteractive:
    __slots__ = ("_traffic",)

    def __init__(self, traffic: InteractiveTraffic) -> None:
        self._traffic = traffic

    async def __call__(self, ctx: RequestContext, call_next: Handler) -> None:
        if ctx.batch_id is not None:
            await call_next(ctx)
            return
        traffic = self._traffic
        traffic.started()
        try:
            await call_next(ctx)
        finally:
            traffic.ended()
