"""Rate limits, token quotas and KRW budgets: reserve before the request runs, settle when it ends.

Between access and dispatch, inside cancel-on-disconnect. One call to the counter store checks every
limit of the key and its organisation at once (all granted or none counted: one Redis round trip);
``finally`` settles each reservation to what the engine reported, however the request ended:
complete, a stream cut short, an upstream error, a client that left. A budget is therefore never
overspent by more than one request's reservation, and an unused reservation always comes back.

A key and organisation with no limits cost two dict lookups here and nothing else.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime

from onshore.domain.counters import Admission, Reservation
from onshore.domain.limits import Limits
from onshore.errors import ServiceUnavailable
from onshore.gateway.admission import (
    Demand,
    Plan,
    Template,
    fill,
    month_period,
    rate_limit_headers,
    refusal,
    requested_output,
    settle_amounts,
    template,
)
from onshore.gateway.chain import Handler
from onshore.gateway.context import RequestContext
from onshore.gateway.limit_book import LimitBook
from onshore.ports import Clock, CounterStore, StoreError, Telemetry

log = logging.getLogger(__name__)

_MAX_TEMPLATES = 100_000


class GuardedCounters:
    """The counter store, and the deployment's choice for when it cannot answer.

    ``fail_open`` admits unchecked (the ledger still meters every token); otherwise 503. After a
    failure the store is left alone for ``retry_s`` and every request is decided at once, so an
    outage costs partners no latency; the first call after that tries the store again, so the
    gateway recovers by itself when the store returns.

    Settlements never wait: ``settle_later`` applies them at once in process, and a shared store
    sends them in batches after the answer has gone out (a failed batch is counted by the store's
    ``on_error``; rates fix themselves when their window ends, a concurrency count when its TTL
    does). A caller cancelled while a shared store answers strands nothing: the store gives back
    what it was granted.
    """

    def __init__(
        self,
        store: CounterStore,
        *,
        fail_open: bool,
        retry_s: float,
        clock: Clock,
        telemetry: Telemetry,
    ) -> None:
        self.store = store
        self._fail_open = fail_open
        self._retry_s = retry_s
        self._clock = clock
        self._telemetry = telemetry
        self._resume_at = 0.0
        self._down = False

    async def reserve(self, plan: Plan) -> Admission | None:
        """The store's answer, or None: admitted unchecked because the store is away (fail open)."""
        if self._down and self._clock.monotonic() < self._resume_at:
            self._unavailable()
            return None
        try:
            admission = await self.store.reserve(plan.counters)
        except StoreError:
            if not self._down:
                log.warning(
                    "the limits store does not answer; failing %s until it does",
                    "open" if self._fail_open else "closed",
                )
            self._down = True
            self._resume_at = self._clock.monotonic() + self._retry_s
            self._unavailable()
            return None
        if self._down:
            self._down = False
            log.info("the limits store answers again; limits are enforced")
        return admission

    def _unavailable(self) -> None:
        """Count the decision; raise 503 when the deployment fails closed."""
        decision = "open" if self._fail_open else "closed"
        self._telemetry.limits_unavailable(decision)
        if not self._fail_open:
            raise ServiceUnavailable(
                "Rate limits cannot be checked right now; retry shortly.", code="limits_unavailable"
            )

    def settle(self, reservation: Reservation, actual: list[int]) -> None:
        try:
            self.store.settle_later(reservation, actual)
        except Exception:
            log.exception("settling a reservation failed")

    async def drain(self) -> None:
        """Send the settlements still queued (at shutdown)."""
        try:
            await self.store.drain()
        except Exception:
            log.exception("sending the last settlements failed")


class Admit:
    __slots__ = (
        "_book",
        "_bytes_per_token",
        "_clock",
        "_counters",
        "_default_output",
        "_month_ends",
        "_telemetry",
        "_templates",
    )

    def __init__(
        self,
        book: LimitBook,
        counters: GuardedCounters,
        clock: Clock,
        telemetry: Telemetry,
        *,
        default_max_tokens: int,
        prompt_bytes_per_token: float,
    ) -> None:
        self._book = book
        self._counters = counters
        self._clock = clock
        self._telemetry = telemetry
        self._default_output = default_max_tokens
        self._bytes_per_token = prompt_bytes_per_token
        # key id -> (limits version, month's end as a timestamp, the key's counters without amounts)
        self._templates: dict[str, tuple[int, float, Template]] = {}
        self._month_ends = 0.0  # the current month's end (templates built before it are stale after)

    async def __call__(self, ctx: RequestContext, call_next: Handler) -> None:
        principal = ctx.principal
        assert principal is not None
        book = self._book
        key_limits = book.key_limits(principal.key_id)
        org_limits = book.org_limits(principal.org_id)
        if key_limits is None and org_limits is None:
            await call_next(ctx)
            return
        now = self._clock.now()
        shape = self._template(principal.key_id, principal.org_id, key_limits, org_limits, now)
        if not shape.keys:  # only a tier is set
            await call_next(ctx)
            return
        counters = fill(shape, self._demand(ctx, shape.budget))
        admission = await self._counters.reserve(counters)
        if admission is None:  # the store is away and the deployment fails open
            await call_next(ctx)
            return
        headers = rate_limit_headers(counters, admission.states)
        if headers:
            ctx.client.add_headers(headers)
        if not admission.granted:
            scope, name = shape.labels[admission.refused or 0]
            self._telemetry.request_limited(scope, name)
            raise refusal(counters, admission, now)
        reservation = admission.reservation
        assert reservation is not None
        try:
            await call_next(ctx)
        finally:
            cost = ctx.price(book) if shape.budget else None
            milli = 0 if cost is None else -(-cost // 1000)  # rounded up, in integers
            self._counters.settle(reservation, settle_amounts(counters, ctx.total_tokens, milli))

    def _template(
        self, key_id: str, org_id: str, key_limits: Limits | None, org_limits: Limits | None, now: datetime
    ) -> Template:
        version = self._book.version
        timestamp = now.timestamp()
        cached = self._templates.get(key_id)
        if cached is not None and cached[0] == version and timestamp < cached[1]:
            return cached[2]
        if timestamp >= self._month_ends:
            _, left_ms = month_period(now)
            self._month_ends = timestamp + left_ms / 1000
        shape = template(org_id, key_id, key_limits, org_limits, now)
        if len(self._templates) >= _MAX_TEMPLATES:
            self._templates.clear()  # a rebuild costs microseconds; memory stays bounded
        self._templates[key_id] = (version, self._month_ends, shape)
        return shape

    def _demand(self, ctx: RequestContext, budget: bool) -> Demand:
        body = ctx.body
        assert body is not None
        prompt = math.ceil(len(body.raw) / self._bytes_per_token)
        if not ctx.endpoint.generates:  # embeddings, rerank, score: no output tokens
            output, explicit = 0, True
        else:
            asked = requested_output(body.payload)
            output, explicit = (self._default_output, False) if asked is None else (asked, True)
        cost_milli = 0
        if budget:
            cost = self._book.cost_micro_krw(ctx.model, ctx.created_at, prompt, output)
            cost_milli = 0 if cost is None else -(-cost // 1000)
        return Demand(tokens=prompt + output, cost_milli_krw=cost_milli, explicit=explicit)
