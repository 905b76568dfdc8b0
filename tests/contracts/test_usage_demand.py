"""The ``UsageReader.org_hourly_demand`` contract: the ledger's billable demand per UTC hour, model,
organisation and Batch API flag, as a recount of the rows gives it; the values of one hour and model
add up to ``hourly_demand``'s.

Run against the in-memory recount (``tests/support/usage_series.py``) and the SQL store on SQLite
and PostgreSQL (one GROUP BY over ``usage_records``). Rows arrive at least once, as the ledger sink
delivers them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import reduce
from pathlib import Path
from typing import Protocol

import pytest
from sqlalchemy import Engine

from onshore.domain.demand import HourlyDemand, OrgHourlyDemand
from onshore.domain.usage import UsageRecord
from onshore.store.sql import migrate
from onshore.store.sql.engine import make_engine
from onshore.store.sql.ledger import SqlUsageStore
from onshore.store.sql.schema import metadata
from tests.support.usage_series import InMemoryUsageSeries, ledger_record

T0 = datetime(2026, 11, 30, 21, tzinfo=UTC)
ALL = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 31, tzinfo=UTC))


class Ledger(Protocol):
    def write_batch(self, records: list[UsageRecord]) -> None: ...
    def hourly_demand(
        self, start: datetime, end: datetime, org_id: str | None = None
    ) -> list[HourlyDemand]: ...
    def org_hourly_demand(
        self, start: datetime, end: datetime, org_id: str | None = None
    ) -> list[OrgHourlyDemand]: ...


def record(request_id: str, **overrides: object) -> UsageRecord:
    return ledger_record(request_id, T0, **overrides)


def random_records(count: int, seed: int = 5) -> list[UsageRecord]:
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        status = rng.choice([200, 200, 200, 200, 429, 500])
        prompt = rng.randint(0, 3000) if status == 200 else 0
        completion = rng.randint(0, 800) if status == 200 else 0
        rows.append(
            record(
                f"req-{i}",
                created_at=T0 + timedelta(seconds=rng.randint(0, 2 * 86400)),
                org_id=rng.choice(["org_a", "org_b", None]),
                model=rng.choice(["llama", "qwen", None]),
                status=status,
                streamed=rng.random() < 0.5,
                prompt_tokens=prompt,
                completion_tokens=completion,
                total_tokens=prompt + completion,
                batch_id=rng.choice([None, None, "batch_1", "batch_2"]),
            )
        )
    return rows


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    if request.param == "memory":
        yield InMemoryUsageSeries()
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'demand.db'}"
        migrate.upgrade(url)
    else:
        url = str(request.getfixturevalue("_postgres"))
    engine: Engine = make_engine(url)
    with engine.begin() as conn:
        for name in ("usage_records", "usage_hourly", "usage_daily"):
            conn.execute(metadata.tables[name].delete())
    yield SqlUsageStore(engine)
    engine.dispose()


def write_at_least_once(ledger: Ledger, rows: list[UsageRecord]) -> None:
    rng = random.Random(2)
    for start in range(0, len(rows), 40):
        ledger.write_batch(rows[start : start + 40])
        if rng.random() < 0.5:
            ledger.write_batch(rows[start : start + 40])  # a retried batch: counted once


def key(row: OrgHourlyDemand) -> tuple[object, ...]:
    d = row.demand
    return (d.hour, d.model, row.org_id, row.batch, d.requests, d.streamed, d.prompt.total)


def assert_same(got: list[OrgHourlyDemand], want: list[OrgHourlyDemand]) -> None:
    assert [key(g) for g in got] == [key(w) for w in want]
    for g, w in zip(got, want, strict=True):
        assert g.hour.tzinfo == UTC
        for a, b in ((g.demand.prompt, w.demand.prompt), (g.demand.completion, w.demand.completion)):
            assert (a.total, a.largest) == (b.total, b.largest)
            assert a.log_sum == pytest.approx(b.log_sum, rel=1e-9, abs=1e-9)
            assert a.log_sq_sum == pytest.approx(b.log_sq_sum, rel=1e-9, abs=1e-9)


def test_a_small_case_by_hand(ledger: Ledger) -> None:
    ledger.write_batch(
        [
            record("a", prompt_tokens=100, completion_tokens=10, streamed=True),
            record("b", created_at=T0 + timedelta(minutes=30), prompt_tokens=400, completion_tokens=40),
            record("c", created_at=T0 + timedelta(minutes=59), batch_id="batch_1", prompt_tokens=7),
            record("d", org_id="org_b", created_at=T0 + timedelta(hours=1, seconds=1)),
            record("e", org_id=None, created_at=T0 + timedelta(hours=1)),
            record("f", status=429, prompt_tokens=0, completion_tokens=0, total_tokens=0),  # not billable
            record("g", created_at=T0 + timedelta(hours=1), model=None),
        ]
    )
    got = ledger.org_hourly_demand(*ALL)
    h1 = T0 + timedelta(hours=1)
    assert [(r.hour, r.model, r.org_id, r.batch, r.demand.requests) for r in got] == [
        (T0, "llama", "org_a", False, 2),
        (T0, "llama", "org_a", True, 1),
        (h1, "(none)", "org_a", False, 1),
        (h1, "llama", None, False, 1),
        (h1, "llama", "org_b", False, 1),
    ]
    first = got[0].demand
    assert (first.streamed, first.prompt.total, first.completion.total, first.prompt.largest) == (
        1,
        500,
        50,
        400,
    )
    assert first.prompt_mean == 250 and first.prompt_log_sigma == pytest.approx(math.log(4) / 2)
    assert got[1].demand.prompt.total == 7
    assert [(r.org_id, r.batch) for r in ledger.org_hourly_demand(*ALL, org_id="org_b")] == [("org_b", False)]
    assert ledger.org_hourly_demand(T0 + timedelta(hours=2), T0 + timedelta(hours=3)) == []


def test_the_demand_equals_a_recount_and_adds_up_to_the_hourly_demand(ledger: Ledger) -> None:
    rows = random_records(500)
    write_at_least_once(ledger, rows)
    oracle = InMemoryUsageSeries(rows)
    got = ledger.org_hourly_demand(*ALL)
    assert_same(got, oracle.org_hourly_demand(*ALL))
    assert {r.batch for r in got} == {True, False} and None in {r.org_id for r in got}
    for org in ("org_a", "org_b"):
        assert_same(ledger.org_hourly_demand(*ALL, org_id=org), oracle.org_hourly_demand(*ALL, org_id=org))
    window = (T0 + timedelta(hours=5), T0 + timedelta(hours=29))
    assert_same(ledger.org_hourly_demand(*window), oracle.org_hourly_demand(*window))
    # Per hour and model, the organisations' values add up to hourly_demand's.
    by_hour: dict[tuple[datetime, str], list[HourlyDemand]] = {}
    for r in got:
        by_hour.setdefault((r.hour, r.model), []).append(r.demand)
    summed = [reduce(lambda a, b: a + b, parts) for _, parts in sorted(by_hour.items())]
    hourly = ledger.hourly_demand(*ALL)
    assert [(h.hour, h.model, h.requests, h.streamed) for h in hourly] == [
        (s.hour, s.model, s.requests, s.streamed) for s in summed
    ]
    assert [h.prompt.total + h.completion.total for h in hourly] == [
        s.prompt.total + s.completion.total for s in summed
    ]
