"""The usage ledger on SQLite and PostgreSQL: idempotent batches, summaries, concurrent writers."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, func, select
from tests.support.usage_series import ledger_record

from onshore.domain.usage import ModelUsage, MonthTotal, RejectedUsage, UsageRecord
from onshore.ports import HealthCheck, StoreError, UsageReader, UsageWriter
from onshore.store.setaside import RecordsRefused
from onshore.store.sql import SqlUsageStore, make_engine
from onshore.store.sql.schema import usage_records

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def record(request_id: str, **overrides: object) -> UsageRecord:
    return ledger_record(request_id, T0, **{"ttft_ms": 12.5, **overrides})


def row_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(usage_records)).scalar_one())


@pytest.fixture
def ledger(engine: Engine) -> SqlUsageStore:
    return SqlUsageStore(engine)


def test_implements_the_ports(ledger: SqlUsageStore) -> None:
    writer: UsageWriter = ledger
    reader: UsageReader = ledger
    health: HealthCheck = ledger
    assert [writer, reader, health] == [ledger] * 3


def test_rows_round_trip(ledger: SqlUsageStore) -> None:
    rows = [
        record("r1", created_at=T0 + timedelta(microseconds=123)),
        record("r2", created_at=T0 + timedelta(seconds=1), streamed=True, ttft_ms=None),
        record(
            "r3",
            created_at=T0 + timedelta(seconds=2),
            org_id=None,
            key_id=None,
            model=None,
            backend=None,
            status=401,
            error_code="invalid_api_key",
            prompt_tokens=0,
            completion_tokens=0,
            total_tokens=0,
        ),
    ]
    ledger.write_batch(rows)

    assert ledger.records(T0, T0 + timedelta(hours=1)) == rows


def test_same_batch_twice_writes_each_row_once(ledger: SqlUsageStore, engine: Engine) -> None:
    batch = [record(f"r{i}", created_at=T0 + timedelta(seconds=i)) for i in range(20)]
    ledger.write_batch(batch)
    ledger.write_batch(batch)
    ledger.write_batch([*batch[5:], record("r-new")])

    assert row_count(engine) == 21


def test_duplicate_ids_inside_one_batch_keep_the_first(ledger: SqlUsageStore) -> None:
    ledger.write_batch([record("r1", status=200), record("r1", status=500)])

    [stored] = ledger.records(T0, T0 + timedelta(hours=1))
    assert stored.status == 200


def test_empty_batch_is_a_no_op(ledger: SqlUsageStore, engine: Engine) -> None:
    ledger.write_batch([])
    assert row_count(engine) == 0


def test_summary(ledger: SqlUsageStore) -> None:
    start, end = T0, T0 + timedelta(days=31)
    ledger.write_batch(
        [
            record("a1", model="llama", prompt_tokens=100, completion_tokens=50, total_tokens=150),
            record("a2", model="llama", prompt_tokens=10, completion_tokens=10, total_tokens=20),
            record("a3", model="qwen", prompt_tokens=300, completion_tokens=0, total_tokens=300),
            record("a4", model="qwen", status=502, prompt_tokens=0, completion_tokens=0, total_tokens=0),
            record("a5", model=None, status=400, prompt_tokens=0, completion_tokens=0, total_tokens=0),
            # outside the period or the organisation: not counted
            record("x1", created_at=end, total_tokens=999),
            record("x2", created_at=start - timedelta(microseconds=1), total_tokens=999),
            record("x3", org_id="org_b", total_tokens=999),
        ]
    )

    summary = ledger.summary("org_a", start, end)

    assert (summary.org_id, summary.period_start, summary.period_end) == ("org_a", start, end)
    assert summary.requests == 5
    assert summary.failed_requests == 2
    assert summary.prompt_tokens == 410
    assert summary.completion_tokens == 60
    assert summary.total_tokens == 470
    # Billable rows only: the 502 for qwen carried no tokens, the 400 had no model.
    assert summary.by_model == (
        ModelUsage("qwen", requests=1, prompt_tokens=300, completion_tokens=0, total_tokens=300),
        ModelUsage("llama", requests=2, prompt_tokens=110, completion_tokens=60, total_tokens=170),
    )
    assert (summary.billable_requests, summary.rejected_requests) == (3, 2)
    assert summary.rejected == (
        RejectedUsage(status=400, error_code=None, requests=1),
        RejectedUsage(status=502, error_code=None, requests=1),
    )


def test_totals_and_rows_add_up_and_unknown_models_are_never_billing_rows(ledger: SqlUsageStore) -> None:
    # Found from outside (issue 15): totals counted requests without a model while by_model did
    # not, and a model name a partner typed showed up as a billing row.
    ledger.write_batch(
        [
            record("ok", model="llama", prompt_tokens=5, completion_tokens=5, total_tokens=10),
            record("cut", model="llama", status=499, prompt_tokens=5, completion_tokens=3, total_tokens=8),
            record(
                "typo",
                model="lama-typo",
                status=404,
                error_code="model_not_found",
                prompt_tokens=0,
                completion_tokens=0,
                total_tokens=0,
            ),
            record(
                "typo2",
                model="x" * 500,
                status=404,
                error_code="model_not_found",
                prompt_tokens=0,
                completion_tokens=0,
                total_tokens=0,
            ),
            record(
                "bad",
                model=None,
                status=400,
                error_code="invalid_request",
                prompt_tokens=0,
                completion_tokens=0,
                total_tokens=0,
            ),
            record("empty-ok", model="llama", prompt_tokens=0, completion_tokens=0, total_tokens=0),
        ]
    )

    summary = ledger.summary("org_a", T0, T0 + timedelta(days=1))

    assert [m.model for m in summary.by_model] == ["llama"]
    assert summary.requests == summary.billable_requests + summary.rejected_requests == 6
    assert summary.billable_requests == sum(m.requests for m in summary.by_model) == 3
    assert summary.rejected_requests == sum(r.requests for r in summary.rejected) == 3
    for total in ("prompt_tokens", "completion_tokens", "total_tokens"):
        assert getattr(summary, total) == sum(getattr(m, total) for m in summary.by_model)
    assert summary.total_tokens == 18
    assert summary.failed_requests == 4  # the cut stream is both failed and billable
    assert RejectedUsage(status=404, error_code="model_not_found", requests=2) in summary.rejected


def test_month_totals_sum_billable_rows_per_organisation_and_key(ledger: SqlUsageStore) -> None:
    end = T0 + timedelta(days=31)
    ledger.write_batch(
        [
            record("a1", total_tokens=100, cost_micro_krw=1_500),
            record("a2", total_tokens=50, cost_micro_krw=None),  # a model without a price
            record("a3", key_id="key_b", total_tokens=7, cost_micro_krw=2**40),  # past 32 bits
            record("b1", org_id="org_b", key_id="key_c", total_tokens=9, cost_micro_krw=3),
            # A stream cut after some tokens is billable; a refusal with none is not.
            record("b2", org_id="org_b", key_id="key_c", status=502, total_tokens=4, cost_micro_krw=1),
            record(
                "b3",
                org_id="org_b",
                key_id="key_c",
                status=429,
                prompt_tokens=0,
                completion_tokens=0,
                total_tokens=0,
            ),
            record(
                "x1",
                org_id="org_c",
                key_id="key_d",
                status=401,
                prompt_tokens=0,
                completion_tokens=0,
                total_tokens=0,
            ),
            record("n1", org_id=None, key_id=None, total_tokens=1_000),  # no organisation: left out
            record("old", created_at=T0 - timedelta(microseconds=1), total_tokens=1_000),  # before
            record("next", created_at=end, total_tokens=1_000),  # the next month
        ]
    )

    assert ledger.month_totals(T0, end) == [
        MonthTotal("org_a", "key_a", 150, 1_500),
        MonthTotal("org_a", "key_b", 7, 2**40),
        MonthTotal("org_b", "key_c", 13, 4),
    ]
    assert ledger.month_totals(end, end + timedelta(days=30)) == [MonthTotal("org_a", "key_a", 1_000, 0)]


def test_client_request_id_round_trips_and_is_bounded(ledger: SqlUsageStore) -> None:
    ledger.write_batch(
        [
            record("r1", client_request_id="client-1"),
            record("r2", created_at=T0 + timedelta(seconds=1), client_request_id="c" * 500),
            record("r3", created_at=T0 + timedelta(seconds=2)),
        ]
    )
    r1, r2, r3 = ledger.records(T0, T0 + timedelta(hours=1))
    assert r1.client_request_id == "client-1"
    assert r2.client_request_id == "c" * 128  # cut to the column, never a reason to refuse the row
    assert r3.client_request_id is None


def test_a_row_whose_value_cannot_be_bound_is_refused_and_nothing_is_written(
    ledger: SqlUsageStore, engine: Engine
) -> None:
    # The column's own bind processing (JSON here) runs before the driver: what it cannot encode is
    # the data's fault, so the sink sets the row aside instead of retrying it as an outage.
    unencodable = record("r2", pii_counts={"KR_RRN": object()})
    with pytest.raises(RecordsRefused):
        ledger.write_batch([record("r1"), unencodable])
    assert row_count(engine) == 0


def test_rows_of_every_column_type_read_back_as_written(ledger: SqlUsageStore) -> None:
    naive = datetime(2026, 3, 1, 9, 30)  # taken as UTC
    seoul = datetime(2026, 3, 1, 18, 30, 1, tzinfo=timezone(timedelta(hours=9)))
    rows = [
        record("r1", created_at=naive, pii_counts={"KR_RRN": 2}, cost_micro_krw=7, batch_id="batch_1"),
        record("r2", created_at=seoul, streamed=True, ttft_ms=None, jurisdiction="KR", error_code="x"),
    ]
    ledger.write_batch(rows)
    r1, r2 = ledger.records(T0, T0 + timedelta(days=1))
    assert r1 == replace(rows[0], created_at=naive.replace(tzinfo=UTC))
    assert r2 == replace(rows[1], created_at=datetime(2026, 3, 1, 9, 30, 1, tzinfo=UTC))


def test_summary_of_nothing_is_zero(ledger: SqlUsageStore) -> None:
    summary = ledger.summary("org_a", T0, T0 + timedelta(days=1))
    assert (summary.requests, summary.failed_requests, summary.total_tokens) == (0, 0, 0)
    assert summary.by_model == ()


def test_records_filters_orders_and_limits(ledger: SqlUsageStore) -> None:
    ledger.write_batch(
        [
            record("late", created_at=T0 + timedelta(seconds=3)),
            record("early", created_at=T0 + timedelta(seconds=1)),
            record("other-org", created_at=T0 + timedelta(seconds=2), org_id="org_b"),
        ]
    )
    end = T0 + timedelta(minutes=1)

    assert [r.request_id for r in ledger.records(T0, end)] == ["early", "other-org", "late"]
    assert [r.request_id for r in ledger.records(T0, end, org_id="org_a")] == ["early", "late"]
    assert [r.request_id for r in ledger.records(T0, end, limit=1)] == ["early"]
    assert all(r.created_at.tzinfo is not None for r in ledger.records(T0, end))


def test_ping(ledger: SqlUsageStore) -> None:
    ledger.ping()


def test_unreachable_database_raises_store_error() -> None:
    engine = make_engine("postgresql://postgres@127.0.0.1:1/nothing")
    ledger = SqlUsageStore(engine)
    try:
        with pytest.raises(StoreError):
            ledger.ping()
        with pytest.raises(StoreError):
            ledger.write_batch([record("r1")])
        with pytest.raises(StoreError):
            ledger.summary("org_a", T0, T0)
        with pytest.raises(StoreError):
            ledger.records(T0, T0)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_concurrent_overlapping_batches_write_each_row_once(postgres_url: str) -> None:
    # Two replicas (or a retry racing the original) insert overlapping rows at the same moment;
    # ON CONFLICT DO NOTHING must settle it inside PostgreSQL without errors or duplicates.
    engine = make_engine(postgres_url, pool_size=4)
    ledger = SqlUsageStore(engine)
    ids = [f"req-{i:04d}" for i in range(600)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def writer(chunks: list[list[str]]) -> None:
        try:
            barrier.wait()
            for chunk in chunks:
                ledger.write_batch([record(i) for i in chunk])
        except BaseException as exc:  # collected and asserted on below
            errors.append(exc)

    forward = [ids[i : i + 50] for i in range(0, 400, 50)]  # 0..399
    backward = [ids[i : i + 50] for i in range(550, 150, -50)]  # 150..599, in reverse
    threads = [threading.Thread(target=writer, args=(chunks,)) for chunks in (forward, backward)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert errors == []
        assert row_count(engine) == 600
        stored = ledger.records(T0, T0 + timedelta(seconds=1))
        assert sorted(r.request_id for r in stored) == ids
    finally:
        engine.dispose()
