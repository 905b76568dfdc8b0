"""The ``UsageSeriesReader`` contract: the rollup answers what a recount of the ledger's rows answers.

Run against the in-memory recount (``tests/support/usage_series.py``) and the SQL store on SQLite and
PostgreSQL, whose answers come from ``usage_hourly``, kept by a trigger. Rows arrive as the ledger
sink delivers them: in batches, some twice (at least once), from several writers at once.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import pytest
from sqlalchemy import Engine

from onshore.domain.usage import UsageRecord
from onshore.domain.usage_series import (
    BUCKETS,
    GROUP_BYS,
    Bucket,
    GroupBy,
    SeriesPoint,
    latency_bucket,
    nearest_rank,
)
from onshore.ports import UsageReader, UsageSeriesReader
from onshore.store.sql import migrate
from onshore.store.sql.engine import make_engine
from onshore.store.sql.ledger import SqlUsageStore
from onshore.store.sql.schema import metadata
from tests.support.services import postgres_database
from tests.support.usage_series import InMemoryUsageSeries, bucket_of, hour_of, ledger_record

T0 = datetime(2026, 11, 30, 21, tzinfo=UTC)  # three hours before a month ends: hours, days, months cut
ALL = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 6, 1, tzinfo=UTC))


class Ledger(UsageSeriesReader, Protocol):
    def write_batch(self, records: list[UsageRecord]) -> None: ...


def record(request_id: str, **overrides: object) -> UsageRecord:
    return ledger_record(request_id, T0, **overrides)


def random_records(count: int, seed: int = 7) -> list[UsageRecord]:
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        status = rng.choice([200, 200, 200, 200, 200, 401, 404, 429, 500, 502])
        served = status == 200 or (status == 502 and rng.random() < 0.5)  # a stream cut after tokens
        prompt = rng.randint(1, 3000) if served else 0
        completion = rng.randint(1, 800) if served else 0
        rows.append(
            record(
                f"req-{i}",
                created_at=T0 + timedelta(seconds=rng.randint(0, 3 * 86400)),
                org_id=rng.choice(["org_a", "org_b", "org_c", None]),
                model=rng.choice(["llama", "qwen", "exaone", None]),
                backend=rng.choice(["pool-a", "pool-b", None]),
                status=status,
                prompt_tokens=prompt,
                cached_tokens=rng.randint(0, prompt),
                completion_tokens=completion,
                total_tokens=prompt + completion,
                cost_micro_krw=rng.choice([None, prompt * 7 + completion * 21]) if served else None,
                # 0.5 ms to 20 min: the first and the last (open) buckets are used too; exact bounds
                latency_ms=rng.choice([rng.lognormvariate(6, 1.5), 0.5, 1.0, 2**0.5, 1_300_000.0]),
            )
        )
    return rows


@pytest.fixture(scope="module")
def _postgres() -> Iterator[str]:
    with postgres_database() as url:
        migrate.upgrade(url)
        yield url


def _engine(request: pytest.FixtureRequest, kind: str, tmp_path: Path) -> Iterator[Engine]:
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'series.db'}"
        migrate.upgrade(url)
    else:
        url = str(request.getfixturevalue("_postgres"))
    engine = make_engine(url)
    with engine.begin() as conn:
        for table in (metadata.tables[name] for name in ("usage_records", "usage_hourly", "usage_daily")):
            conn.execute(table.delete())
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    yield from _engine(request, str(request.param), tmp_path)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    if request.param == "memory":
        yield InMemoryUsageSeries()
        return
    for engine in _engine(request, str(request.param), tmp_path):
        sql: Ledger = SqlUsageStore(engine)
        yield sql


def write_at_least_once(ledger: Ledger, rows: list[UsageRecord], seed: int = 1) -> None:
    """Batches of up to 50, each sent once or twice, some rows again in a later batch."""
    rng = random.Random(seed)
    for start in range(0, len(rows), 50):
        batch = rows[start : start + 50]
        ledger.write_batch(batch)
        if rng.random() < 0.5:
            ledger.write_batch(batch)  # a batch that timed out but committed, sent again
        if start:
            ledger.write_batch(rng.sample(rows[:start], 5))  # replayed from the spool


def assert_same(actual: list[SeriesPoint], expected: list[SeriesPoint]) -> None:
    """Counts, tokens and cost exactly; p50 and p99 in the exact percentile's histogram bucket."""
    assert [(p.start, p.group) for p in actual] == [(p.start, p.group) for p in expected]
    for got, want in zip(actual, expected, strict=True):
        assert got == want
        for q in (0.5, 0.99):
            assert got.latency_histogram == want.latency_histogram
            estimate = got.p50_ms if q == 0.5 else got.p99_ms
            assert estimate is not None
            assert latency_bucket(estimate) == latency_bucket(exact_quantile(want, q, estimate))


_LATENCIES: dict[tuple[datetime, str | None], list[float]] = {}


def exact_quantile(point: SeriesPoint, q: float, _estimate: float) -> float:
    values = sorted(_LATENCIES[(point.start, point.group)])
    return values[nearest_rank(q, len(values)) - 1]


def remember_latencies(rows: list[UsageRecord], bucket: Bucket, group_by: GroupBy | None) -> None:
    _LATENCIES.clear()
    fields = {"org": "org_id", "model": "model", "backend": "backend"}
    for r in rows:
        group = (getattr(r, fields[group_by]) or None) if group_by else None
        _LATENCIES.setdefault((bucket_of(r.created_at, bucket), group), []).append(r.latency_ms)


def test_the_sql_store_is_a_series_reader(engine: Engine) -> None:
    reader: UsageReader = SqlUsageStore(engine)
    series: UsageSeriesReader = reader
    assert series.usage_series(*ALL, "day") == []


@pytest.mark.parametrize("bucket", BUCKETS)
@pytest.mark.parametrize("group_by", [*GROUP_BYS, None])
def test_the_series_equals_a_recount_of_the_rows(
    ledger: Ledger, bucket: Bucket, group_by: GroupBy | None
) -> None:
    rows = random_records(400)
    write_at_least_once(ledger, rows)
    oracle = InMemoryUsageSeries(rows)
    remember_latencies(rows, bucket, group_by)
    assert_same(ledger.usage_series(*ALL, bucket, group_by), oracle.usage_series(*ALL, bucket, group_by))
    assert sum(p.requests for p in ledger.usage_series(*ALL, bucket, group_by)) == len(rows)
    # One organisation only, and a window of whole hours inside the period: days and months are
    # then summed from edge hours (hourly rollup) and whole days (daily rollup).
    start, end = T0 + timedelta(hours=4), T0 + timedelta(hours=60)
    remember_latencies(
        [r for r in rows if r.org_id == "org_b" and start <= hour_of(r.created_at) < end], bucket, group_by
    )
    assert_same(
        ledger.usage_series(start, end, bucket, group_by, "org_b"),
        oracle.usage_series(start, end, bucket, group_by, "org_b"),
    )


def test_a_small_case_by_hand(ledger: Ledger) -> None:
    """The recount itself checked against numbers worked out by hand."""
    ledger.write_batch(
        [
            record("a", latency_ms=10.0, cost_micro_krw=100),
            record(
                "b",
                created_at=T0 + timedelta(minutes=59, seconds=59),
                status=500,
                prompt_tokens=0,
                completion_tokens=0,
                total_tokens=0,
                latency_ms=3000.0,
            ),
            record(
                "c",
                created_at=T0 + timedelta(hours=3),
                org_id=None,
                model=None,
                backend=None,
                status=401,
                prompt_tokens=0,
                completion_tokens=0,
                total_tokens=0,
                latency_ms=0.2,
            ),
            record("d", created_at=T0 + timedelta(hours=3, minutes=1), cached_tokens=4, cost_micro_krw=None),
        ]
    )
    ledger.write_batch([record("a", latency_ms=99.0)])  # a duplicate id: not counted, first row kept
    by_hour = ledger.usage_series(*ALL, "hour", "org")
    assert [(p.start, p.group, p.requests, p.errors, p.billable_requests) for p in by_hour] == [
        (T0, "org_a", 2, 1, 1),
        (T0 + timedelta(hours=3), None, 1, 1, 0),
        (T0 + timedelta(hours=3), "org_a", 1, 0, 1),
    ]
    first = by_hour[0]
    assert (first.prompt_tokens, first.completion_tokens, first.total_tokens, first.cost_micro_krw) == (
        10,
        5,
        15,
        100,
    )
    assert first.p50_ms is not None and 8 <= first.p50_ms < 2**3.5  # 10 ms's bucket is [8, 11.3)
    assert by_hour[1].p99_ms is not None and by_hour[1].p99_ms < 1.0
    by_month = ledger.usage_series(*ALL, "month")
    assert [(p.start, p.requests, p.cached_tokens) for p in by_month] == [
        (datetime(2026, 11, 1, tzinfo=UTC), 2, 0),
        (datetime(2026, 12, 1, tzinfo=UTC), 2, 4),
    ]
    assert [p.start for p in ledger.usage_series(*ALL, "day")] == [
        datetime(2026, 11, 30, tzinfo=UTC),
        datetime(2026, 12, 1, tzinfo=UTC),
    ]
    assert ledger.usage_series(T0 + timedelta(hours=1), T0 + timedelta(hours=3), "hour") == []


def test_the_peak_hour(ledger: Ledger) -> None:
    assert ledger.peak_hour(*ALL) is None
    rows = random_records(300, seed=11)
    write_at_least_once(ledger, rows)
    oracle = InMemoryUsageSeries(rows)
    for org in (None, "org_a", "org_c"):
        assert ledger.peak_hour(*ALL, org) == oracle.peak_hour(*ALL, org)
    peak = ledger.peak_hour(*ALL)
    assert peak is not None
    assert peak.hour == hour_of(peak.hour)
    assert peak.mean_prompt_tokens == pytest.approx(peak.prompt_tokens / peak.billable_requests)
    # Ties go to the earliest hour.
    tied = InMemoryUsageSeries([record("x", created_at=T0 + timedelta(hours=2)), record("y", created_at=T0)])
    assert (tied.peak_hour(*ALL) or peak).hour == T0


@pytest.mark.parametrize("writers", [4])
def test_concurrent_writers_count_every_row_once(engine: Engine, writers: int) -> None:
    """Replicas flushing at once, their batches adding to the same rollup rows in different orders:
    none lost, no deadlock between the rollup's upserts; replayed afterwards, none counted twice."""
    rows = random_records(600, seed=3)
    stores = [SqlUsageStore(engine) for _ in range(writers)]
    errors: list[BaseException] = []

    def replica(index: int) -> None:
        mine = rows[index::writers]
        random.Random(index).shuffle(mine)
        try:
            for start in range(0, len(mine), 40):
                stores[index].write_batch(mine[start : start + 40])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=replica, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    stores[0].write_batch(rows[100:300])
    oracle = InMemoryUsageSeries(rows)
    assert stores[0].usage_series(*ALL, "hour", "model") == oracle.usage_series(*ALL, "hour", "model")
