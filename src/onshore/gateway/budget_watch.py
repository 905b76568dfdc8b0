"""How much of each organisation's monthly KRW budget is spent, for the "budget nearly spent" alert.

Read from the counter store admission counts in (one ``used`` round trip for every organisation
with a budget), never from the ledger: it is what admission will refuse on. Run periodically off
the request path; the result goes to a callback (the composition root hands it to the metrics).
With counters in process memory and several workers, each worker sees its own share plus the
ledger's floor (``QuotaSeeder``); the metrics keep the highest (Redis: every worker sees the same).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from onshore.gateway.admission import month_counters
from onshore.gateway.auth import KeyCache
from onshore.gateway.limit_book import LimitBook
from onshore.ports import Clock, CounterStore, StoreError

log = logging.getLogger(__name__)

Ratios = Sequence[tuple[str, float]]  # (organisation name, used / budget)


class BudgetWatch:
    """``run_once`` reports (organisation name, share of the monthly budget used) to ``report``.

    A share above 1 is possible (requests in flight when the budget ran out are settled in full).
    """

    def __init__(
        self,
        book: LimitBook,
        counters: CounterStore,
        clock: Clock,
        names: KeyCache,
        report: Callable[[Ratios], None],
    ) -> None:
        self._book = book
        self._counters = counters
        self._clock = clock
        self._names = names
        self._report = report

    async def ratios(self) -> list[tuple[str, float]]:
        now = self._clock.now()
        # Organisations known by name only: before the keys are loaded an id would become a label
        # of its own, left behind once the name is known.
        budgets = [
            (org_id, limits.monthly_budget_krw)
            for org_id, limits in self._book.all_orgs.items()
            if limits.monthly_budget_krw is not None
            and limits.monthly_budget_krw > 0
            and self._names.knows_org(org_id)
        ]
        if not budgets:
            return []
        states = await self._counters.used([month_counters(org_id, None, now)[1] for org_id, _ in budgets])
        # Budget counters are in milli-won; budgets in whole won.
        return [
            (self._names.org_name(org_id), state.used / (won * 1000))
            for (org_id, won), state in zip(budgets, states, strict=True)
        ]

    async def run_once(self) -> None:
        try:
            ratios = await self.ratios()
        except StoreError:
            return  # the limits store's own health check and counters report the outage
        self._report(ratios)
