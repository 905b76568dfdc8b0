"""``BudgetWatch``: the share of each organisation's monthly budget used, read from the very counters
admission refuses on, for organisations known by name only."""

from __future__ import annotations

from onshore.domain.limits import Limits
from onshore.gateway.admission import month_counters
from onshore.gateway.auth import KeyCache
from onshore.gateway.budget_watch import BudgetWatch, Ratios
from onshore.gateway.limit_book import LimitBook
from onshore.gateway.memory import MemoryCounterStore
from onshore.ports import LimitsSnapshot
from tests.support.fakes import ManualClock


async def test_ratios_come_from_the_month_counters() -> None:
    clock = ManualClock()
    counters = MemoryCounterStore(clock)
    book = LimitBook()
    book.load(
        LimitsSnapshot(
            orgs={
                "org_a": Limits(monthly_budget_krw=1_000),
                "org_b": Limits(monthly_budget_krw=500),
                "org_rpm": Limits(rpm=10),  # no budget: no ratio
                "org_new": Limits(monthly_budget_krw=100),  # no name known yet: no label
            },
            keys={},
            prices=[],
            version=1,
        )
    )
    names = KeyCache()
    names.set_org_names({"org_a": "acme", "org_b": "bolt", "org_rpm": "rpm-only"})
    # Budgets are counted in milli-won: 250 won spent by acme, 500 (all of it) by bolt.
    await counters.raise_to(
        [
            (month_counters("org_a", None, clock.now())[1], 250_000),
            (month_counters("org_b", None, clock.now())[1], 500_000),
        ]
    )
    reported: list[Ratios] = []
    watch = BudgetWatch(book, counters, clock, names, reported.append)
    await watch.run_once()
    assert sorted(reported[0]) == [("acme", 0.25), ("bolt", 1.0)]


async def test_no_budget_reads_nothing() -> None:
    clock = ManualClock()
    reported: list[Ratios] = []
    watch = BudgetWatch(LimitBook(), MemoryCounterStore(clock), clock, KeyCache(), reported.append)
    await watch.run_once()
    assert reported == [[]]
