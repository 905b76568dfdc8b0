"""The fair queue as a step: past a model's capacity, requests wait their organisation's turn.

After admission (a refused request never waits) and inside cancel-on-disconnect (a client that
leaves while queued leaves the queue at once). The organisation is charged its prompt estimate when
its request is let through and corrected to what the engine reported when it ends, so fair shares
are counted in tokens (VTC), not requests.
"""

from __future__ import annotations

import math

from onshore.domain.limits import Tier
from onshore.gateway.chain import Handler
from onshore.gateway.context import RequestContext
from onshore.gateway.fair_queue import FairQueue
from onshore.gateway.limit_book import LimitBook


class Schedule:
    __slots__ = ("_book", "_bytes_per_token", "_queue")

    def __init__(self, queue: FairQueue, book: LimitBook, *, prompt_bytes_per_token: float) -> None:
        self._queue = queue
        self._book = book
        self._bytes_per_token = prompt_bytes_per_token

    async def __call__(self, ctx: RequestContext, call_next: Handler) -> None:
        principal, body, model = ctx.principal, ctx.body, ctx.model
        assert principal is not None
        assert body is not None
        assert model is not None
        estimate = math.ceil(len(body.raw) / self._bytes_per_token)
        # A batch's requests wait in the background lane, in the lowest tier whatever the
        # organisation's own: they fill only what interactive traffic leaves (fair_queue.py).
        batch = ctx.batch_id is not None
        tier = Tier.BATCH if batch else self._book.tier(principal.org_id)
        async with self._queue.slot(model, principal.org_id, tier, estimate, background=batch) as slot:
            try:
                await call_next(ctx)
            finally:
                # At least the prompt estimate: a request that failed upstream still held a place
                # (and the engine may have read its prompt), so failing must not be a free ride.
                slot.charge(max(ctx.total_tokens, estimate))
