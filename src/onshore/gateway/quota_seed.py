"""Monthly token quotas and KRW budgets that survive a restart of the counter store.

Their counters live in the counter store: process memory by default, or a Redis that may restart
without persistence. Either comes back empty, and a budget would then start the month at 0 and could
be spent again. The ledger (SQL) holds what was really used, so ``QuotaSeeder`` raises each monthly
counter to at least the month's ledger total: once at start, before the first request is served,
and every ``limits.reseed_interval_s`` after (a Redis can restart under a running replica, and
requests admitted unchecked while it was away, when failing open, were metered but not counted).

Floors only ever raise (``CounterStore.raise_to``): a counter also holds reservations in flight and
settled rows the ledger has not written yet, so in steady state it is at or above the ledger and
nothing changes. Budgets are counted in milli-won and rows in micro-won: the floor is the month's
micro-won rounded up, never more than the per-request rounding up the step settles.
A quota set in the middle of a month binds on the whole month's usage from the next reseed on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import UTC, datetime

from onshore.domain.counters import Counter
from onshore.domain.limits import Limits
from onshore.domain.periods import utc_month
from onshore.domain.usage import MonthTotal
from onshore.gateway.admission import month_counters
from onshore.gateway.limit_book import LimitBook
from onshore.gateway.periodic import Periodic
from onshore.ports import Clock, CounterStore, StoreError, UsageReader

log = logging.getLogger(__name__)

Floors = list[tuple[Counter, int]]


class QuotaSeeder:
    """Raises monthly quota and budget counters to the ledger's totals for the current UTC month.

    Args:
        reader: The ledger; ``month_totals`` runs in a worker thread (one GROUP BY per reseed).
        book: Which organisations and keys have a monthly limit (nothing is read when none has).
        counters: The store admission counts in (not the guarded wrapper: a failure here is only
            logged, and the next reseed tries again).
        interval_s: Time between reseeds after the first.
    """

    def __init__(
        self,
        reader: UsageReader,
        book: LimitBook,
        counters: CounterStore,
        clock: Clock,
        *,
        interval_s: float,
    ) -> None:
        self._reader = reader
        self._book = book
        self._counters = counters
        self._clock = clock
        self._periodic = Periodic("onshore-quota-seed", interval_s, self._reseed)
        self.healthy = True  # False while the last reseed failed (the ledger or the store was away)

    async def seed(self) -> int:
        """Raise the counters now; the number of floors sent (0: no monthly limit has usage).

        Never raises for an unreachable database or counter store: it logs once per outage, and
        the next reseed tries again.
        """
        if not any(_monthly(limits) for limits in self._book.all_orgs.values()) and not any(
            _monthly(limits) for limits in self._book.all_keys.values()
        ):
            self.healthy = True
            return 0
        now = self._clock.now().astimezone(UTC)
        start, end = utc_month(now)
        try:
            totals = await asyncio.to_thread(self._reader.month_totals, start, end)
            floors = self.floors(totals, now)
            # One call per organisation: its counters share its {hash tag}, so each script stays on
            # one Redis Cluster node, and no single script holds Redis for long.
            for batch in floors.values():
                await self._counters.raise_to(batch)
        except StoreError as exc:
            if self.healthy:
                log.warning("monthly quotas not reseeded from the ledger (%s); retrying later", exc)
            self.healthy = False
            return 0
        if not self.healthy:
            log.info("monthly quotas reseeded from the ledger again")
        self.healthy = True
        return sum(len(batch) for batch in floors.values())

    def floors(self, totals: Iterable[MonthTotal], now: datetime) -> dict[str, Floors]:
        """Per organisation, the floor of each monthly counter (its own and its keys') that has such a
        limit and some usage this month."""
        tokens: dict[str, int] = {}
        micro: dict[str, int] = {}
        floors: dict[str, Floors] = {}
        keys = self._book.all_keys
        for t in totals:
            tokens[t.org_id] = tokens.get(t.org_id, 0) + t.total_tokens
            micro[t.org_id] = micro.get(t.org_id, 0) + t.cost_micro_krw
            limits = keys.get(t.key_id) if t.key_id is not None else None
            if limits is not None:
                found = _floors(limits, t.org_id, t.key_id, t.total_tokens, t.cost_micro_krw, now)
                floors.setdefault(t.org_id, []).extend(found)
        for org_id, limits in self._book.all_orgs.items():
            if org_id in tokens:
                found = _floors(limits, org_id, None, tokens[org_id], micro[org_id], now)
                floors.setdefault(org_id, []).extend(found)
        return {org_id: found for org_id, found in floors.items() if found}

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    async def _reseed(self) -> None:
        await self.seed()


def _monthly(limits: Limits) -> bool:
    return limits.monthly_tokens is not None or limits.monthly_budget_krw is not None


def _floors(
    limits: Limits, org_id: str, key_id: str | None, tokens: int, micro_krw: int, now: datetime
) -> Floors:
    if not _monthly(limits):
        return []
    month_tokens, budget = month_counters(org_id, key_id, now)
    out: Floors = []
    if limits.monthly_tokens is not None and tokens > 0:
        out.append((month_tokens, tokens))
    if limits.monthly_budget_krw is not None and micro_krw > 0:
        out.append((budget, -(-micro_krw // 1000)))  # milli-won rounded up, exactly (no float)
    return out
