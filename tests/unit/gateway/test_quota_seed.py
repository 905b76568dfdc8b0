"""Monthly quotas and budgets raised to the ledger's totals: the floors, their counters, and failures."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from onshore.domain.counters import Counter
from onshore.domain.limits import Limits
from onshore.domain.usage import MonthTotal
from onshore.gateway.admission import Demand, month_counters, plan
from onshore.gateway.limit_book import LimitBook
from onshore.gateway.memory import MemoryCounterStore
from onshore.gateway.quota_seed import QuotaSeeder
from onshore.ports import LimitsSnapshot, StoreError
from tests.support.fakes import ManualClock

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
ORG_LIMITS = Limits(monthly_tokens=10_000, monthly_budget_krw=100, rpm=60)
KEY_LIMITS = Limits(monthly_budget_krw=50)


class FakeLedger:
    """``UsageReader.month_totals`` from a list; records the periods asked for."""

    def __init__(self, totals: Sequence[MonthTotal] = ()) -> None:
        self.totals = list(totals)
        self.asked: list[tuple[datetime, datetime]] = []
        self.down = False
        self.third_ask = threading.Event()  # set from the worker thread the seeder reads in

    def month_totals(self, start: datetime, end: datetime) -> list[MonthTotal]:
        if self.down:
            raise StoreError("the database is away")
        self.asked.append((start, end))
        if len(self.asked) >= 3:
            self.third_ask.set()
        return list(self.totals)


def book(orgs: dict[str, Limits] | None = None, keys: dict[str, Limits] | None = None) -> LimitBook:
    limit_book = LimitBook()
    limit_book.load(LimitsSnapshot(orgs=orgs or {}, keys=keys or {}, prices=(), version=1))
    return limit_book


def seeder(
    ledger: FakeLedger, limit_book: LimitBook, store: MemoryCounterStore, clock: ManualClock
) -> QuotaSeeder:
    return QuotaSeeder(ledger, limit_book, store, clock, interval_s=0.01)  # type: ignore[arg-type]


def planned(org_limits: Limits | None, key_limits: Limits | None, amount: int = 0) -> list[Counter]:
    """The monthly counters the admission step reserves for one request at NOW."""
    demand = Demand(tokens=amount, cost_milli_krw=amount, explicit=True)
    p = plan("org_a", "key_a", key_limits, org_limits, demand, NOW)
    return [c for c, (_, name) in zip(p.counters, p.limits, strict=True) if name.startswith("monthly")]


async def used(store: MemoryCounterStore, counters: Sequence[Counter]) -> list[int]:
    return [state.used for state in await store.used(counters)]


def test_month_counters_are_the_ones_plan_reserves() -> None:
    org_tokens, org_budget = month_counters("org_a", None, NOW)
    key_tokens, key_budget = month_counters("org_a", "key_a", NOW)
    full = Limits(monthly_tokens=1, monthly_budget_krw=1)

    for mine, theirs in zip(
        (key_tokens, key_budget, org_tokens, org_budget), planned(full, full), strict=True
    ):
        assert (mine.key, mine.window_ms, mine.ttl_ms) == (theirs.key, theirs.window_ms, theirs.ttl_ms)
    assert org_tokens.key == "{org_a}:o:mt:2026-12" and key_budget.key == "{org_a}:k:key_a:krw:2026-12"


async def test_seeding_raises_org_and_key_counters_to_the_months_ledger() -> None:
    clock = ManualClock(NOW)
    store = MemoryCounterStore(clock)
    ledger = FakeLedger(
        [
            MonthTotal("org_a", "key_a", 3_000, 40_000_001),  # 40,000.001 milli-won: rounds up
            MonthTotal("org_a", "key_b", 1_000, 2_000_000),
            MonthTotal("org_b", "key_c", 99, 99),  # no monthly limit: no floor
        ]
    )
    limit_book = book({"org_a": ORG_LIMITS, "org_b": Limits(rpm=5)}, {"key_a": KEY_LIMITS})

    sent = await seeder(ledger, limit_book, store, clock).seed()

    assert sent == 3
    assert ledger.asked == [(datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))]
    org_tokens, org_budget = month_counters("org_a", None, NOW)
    _, key_budget = month_counters("org_a", "key_a", NOW)
    assert await used(store, [org_tokens, org_budget, key_budget]) == [4_000, 42_001, 40_001]
    # The budget binds from there: the key has 50 won = 50,000 milli-won, 40,001 already used.
    refused = await store.reserve([Counter(key_budget.key, 10_000, 50_000, 0, key_budget.ttl_ms)])
    assert not refused.granted
    assert (await store.reserve([Counter(key_budget.key, 9_999, 50_000, 0, key_budget.ttl_ms)])).granted


async def test_floors_never_lower_a_counter_ahead_of_the_ledger() -> None:
    clock = ManualClock(NOW)
    store = MemoryCounterStore(clock)
    org_tokens, _ = month_counters("org_a", None, NOW)
    await store.reserve([Counter(org_tokens.key, 5_000, 10_000, 0, org_tokens.ttl_ms)])  # in flight
    ledger = FakeLedger([MonthTotal("org_a", "key_a", 4_000, 0)])

    await seeder(ledger, book({"org_a": ORG_LIMITS}), store, clock).seed()
    await seeder(ledger, book({"org_a": ORG_LIMITS}), store, clock).seed()

    assert await used(store, [org_tokens]) == [5_000]


async def test_nothing_is_read_without_a_monthly_limit() -> None:
    clock = ManualClock(NOW)
    ledger = FakeLedger([MonthTotal("org_a", "key_a", 4_000, 0)])
    quota = seeder(
        ledger, book({"org_a": Limits(rpm=1)}, {"key_a": Limits(tpm=5)}), MemoryCounterStore(clock), clock
    )

    assert await quota.seed() == 0
    assert ledger.asked == []


async def test_the_month_is_the_clocks_utc_month() -> None:
    clock = ManualClock(datetime(2027, 1, 1, 0, 30, tzinfo=UTC))  # just into January
    store = MemoryCounterStore(clock)
    ledger = FakeLedger([MonthTotal("org_a", "key_a", 7, 0)])

    await seeder(ledger, book({"org_a": ORG_LIMITS}), store, clock).seed()

    assert ledger.asked == [(datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 2, 1, tzinfo=UTC))]
    january, _ = month_counters("org_a", None, clock.now())
    assert january.key.endswith(":mt:2027-01") and await used(store, [january]) == [7]


async def test_an_unreachable_store_is_logged_not_raised_and_the_next_seed_recovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ManualClock(NOW)
    store = MemoryCounterStore(clock)
    ledger = FakeLedger([MonthTotal("org_a", "key_a", 4_000, 0)])
    ledger.down = True
    quota = seeder(ledger, book({"org_a": ORG_LIMITS}), store, clock)

    assert await quota.seed() == 0
    assert await quota.seed() == 0
    assert not quota.healthy
    assert sum("not reseeded" in r.getMessage() for r in caplog.records) == 1  # once per outage

    ledger.down = False
    assert await quota.seed() == 1 and quota.healthy
    assert await used(store, [month_counters("org_a", None, NOW)[0]]) == [4_000]


async def test_it_reseeds_every_interval_until_stopped() -> None:
    clock = ManualClock(NOW)
    ledger = FakeLedger([MonthTotal("org_a", "key_a", 10, 0)])
    quota = seeder(ledger, book({"org_a": ORG_LIMITS}), MemoryCounterStore(clock), clock)

    quota.start()
    assert await asyncio.to_thread(ledger.third_ask.wait, 5)  # 0.01 s apart
    await quota.stop()
    asked = len(ledger.asked)
    await asyncio.sleep(0.05)

    assert len(ledger.asked) == asked
