"""Each ledger row keeps its cached tokens and its cost; summaries add the costs up per model."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from tests.support.usage_series import ledger_record

from onshore.store.sql import SqlUsageStore

T0 = datetime(2026, 3, 1, tzinfo=UTC)
BASE = ledger_record("r", T0)


def test_cached_tokens_and_cost_round_trip(engine: Engine) -> None:
    ledger = SqlUsageStore(engine)
    rows = [
        replace(BASE, request_id="priced", cached_tokens=4, cost_micro_krw=9_000_000_000_123),
        replace(BASE, request_id="unpriced", created_at=T0 + timedelta(seconds=1)),
    ]
    ledger.write_batch(rows)

    assert ledger.records(T0, T0 + timedelta(days=1)) == rows


def test_summary_adds_costs_per_model_and_in_total(engine: Engine) -> None:
    ledger = SqlUsageStore(engine)
    ledger.write_batch(
        [
            replace(BASE, request_id="a", cost_micro_krw=1_500_000),
            replace(BASE, request_id="b", cost_micro_krw=2_000_001),
            replace(BASE, request_id="c"),  # no price: counts as usage, adds no cost
            replace(BASE, request_id="d", model="qwen", total_tokens=100, cost_micro_krw=7),
            # Refused: not billable, so its cost (there should be none) is not summed either.
            replace(BASE, request_id="e", status=429, prompt_tokens=0, completion_tokens=0, total_tokens=0),
        ]
    )

    summary = ledger.summary("org_a", T0, T0 + timedelta(days=1))

    by_model = {m.model: m.cost_micro_krw for m in summary.by_model}
    assert by_model == {"llama": 3_500_001, "qwen": 7}
    assert summary.cost_micro_krw == 3_500_008


def test_summary_of_nothing_costs_nothing(engine: Engine) -> None:
    summary = SqlUsageStore(engine).summary("org_a", T0, T0 + timedelta(days=1))
    assert summary.cost_micro_krw == 0
    assert summary.by_model == ()
