"""``UsageReader.hourly_demand`` on SQLite and PostgreSQL: it equals a row-by-row recomputation of
the same ledger (billable rows only, UTC hours, the month's edges, other organisations around), and
the planner's demand rebuilt from it reproduces the demand that generated the ledger."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from onshore.admin.capacity_demand import busiest_hour, model_peaks, planner_demand
from onshore.domain.demand import HourlyDemand
from onshore.domain.usage import UsageRecord
from onshore.store.sql import SqlUsageStore, make_engine

START = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 12, 1, tzinfo=UTC)
PEAK = START + timedelta(days=17, hours=13)  # the generated busiest hour
PEAK_REQUESTS = 1500
PROMPT_MEAN, PROMPT_SIGMA = 900.0, 0.8
OUTPUT_MEAN, OUTPUT_SIGMA = 300.0, 0.6


def base(i: int, when: datetime, **overrides: object) -> UsageRecord:
    record = UsageRecord(
        request_id=f"req_{i:06d}",
        created_at=when,
        org_id="org_a",
        key_id="key_a",
        endpoint="chat.completions",
        model="chat",
        backend="kr-a",
        status=200,
        streamed=False,
    )
    return replace(record, **overrides)  # type: ignore[arg-type]


def lognormal(rng: random.Random, mean: float, sigma: float) -> int:
    return max(1, round(rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma)))


def generated_ledger(seed: int = 7) -> list[UsageRecord]:
    """A month of traffic: quiet hours, one busy hour of "chat" with known length distributions,
    and every kind of row that must not count (refusals, other months) or counts under a rule."""
    rng = random.Random(seed)
    rows: list[UsageRecord] = []

    def add(when: datetime, **overrides: object) -> None:
        rows.append(base(len(rows), when, **overrides))

    for _ in range(PEAK_REQUESTS):
        prompt, output = lognormal(rng, PROMPT_MEAN, PROMPT_SIGMA), lognormal(rng, OUTPUT_MEAN, OUTPUT_SIGMA)
        add(
            PEAK + timedelta(seconds=rng.uniform(0, 3599.999)),
            prompt_tokens=prompt,
            completion_tokens=output,
            total_tokens=prompt + output,
            streamed=rng.random() < 0.7,
        )
    for _ in range(1200):  # quiet traffic over the month, two models, two organisations
        prompt, output = rng.randint(1, 3000), rng.randint(0, 800)
        when = START + timedelta(seconds=rng.uniform(0, 30 * 86400 - 1))
        add(
            when + timedelta(hours=2) if PEAK <= when < PEAK + timedelta(hours=1) else when,
            model=rng.choice(["chat", "code"]),
            org_id=rng.choice(["org_a", "org_b"]),
            prompt_tokens=prompt,
            completion_tokens=output,
            total_tokens=prompt + output,
        )
    hour = START + timedelta(days=3, hours=5)
    add(hour - timedelta(microseconds=1), prompt_tokens=5, completion_tokens=5, total_tokens=10)
    add(hour, prompt_tokens=7, completion_tokens=1, total_tokens=8)
    add(START - timedelta(microseconds=1), prompt_tokens=9, total_tokens=9)  # October
    add(END, prompt_tokens=9, total_tokens=9)  # December
    add(END - timedelta(microseconds=1), prompt_tokens=11, completion_tokens=2, total_tokens=13)
    add(PEAK, status=429, error_code="rate_limit_exceeded")  # refused: not demand
    add(PEAK, status=502, error_code="upstream_error")  # failed before any token: not demand
    add(PEAK, status=502, prompt_tokens=40, completion_tokens=3, total_tokens=43)  # cut stream: billed
    add(PEAK, model=None, prompt_tokens=4, total_tokens=4)  # billable without a model
    add(PEAK, model="embed", endpoint="embeddings", prompt_tokens=12, total_tokens=12)
    return rows


def recomputed(rows: list[UsageRecord], org_id: str | None) -> dict[tuple[datetime, str], list[UsageRecord]]:
    groups: dict[tuple[datetime, str], list[UsageRecord]] = defaultdict(list)
    for r in rows:
        billable = (
            200 <= r.status < 300 or r.total_tokens > 0 or r.prompt_tokens > 0 or r.completion_tokens > 0
        )
        if billable and START <= r.created_at < END and org_id in (None, r.org_id):
            hour = r.created_at.replace(minute=0, second=0, microsecond=0)
            groups[(hour, r.model or "(none)")].append(r)
    return groups


def check_equal(got: list[HourlyDemand], want: dict[tuple[datetime, str], list[UsageRecord]]) -> None:
    assert [(g.hour, g.model) for g in got] == sorted(want)
    for g in got:
        rows = want[(g.hour, g.model)]
        assert g.hour.tzinfo == UTC
        assert g.requests == len(rows)
        assert g.streamed == sum(r.streamed for r in rows)
        for stats, name in ((g.prompt, "prompt_tokens"), (g.completion, "completion_tokens")):
            counts = [getattr(r, name) for r in rows]
            logs = [math.log(max(c, 1)) for c in counts]
            assert stats.total == sum(counts) and stats.largest == max(counts)
            assert stats.log_sum == pytest.approx(sum(logs), rel=1e-9, abs=1e-9)
            assert stats.log_sq_sum == pytest.approx(sum(x * x for x in logs), rel=1e-9, abs=1e-9)


def test_hourly_demand_equals_a_recomputation(engine: Engine) -> None:
    rows = generated_ledger()
    store = SqlUsageStore(engine)
    store.write_batch(rows)
    check_equal(store.hourly_demand(START, END), recomputed(rows, None))
    check_equal(store.hourly_demand(START, END, org_id="org_b"), recomputed(rows, "org_b"))
    assert store.hourly_demand(START, END, org_id="org_none") == []
    assert store.hourly_demand(END, END + timedelta(days=1))[0].requests == 1


def test_the_planner_demand_reproduces_the_generated_demand(engine: Engine) -> None:
    rows = generated_ledger(seed=11)
    store = SqlUsageStore(engine)
    store.write_batch(rows)
    hourly = store.hourly_demand(START, END, org_id="org_a")
    peak = busiest_hour(hourly)
    assert peak is not None and peak.start == PEAK
    chat = model_peaks(hourly)["chat"]
    assert chat.hour == PEAK
    assert chat.requests == PEAK_REQUESTS + 1  # the stream cut after some tokens is demand too
    month = sum(h.requests for h in hourly if h.model == "chat")
    demand = planner_demand(chat, month, days=30, factor=1.0)
    assert demand.peak_rps == pytest.approx((PEAK_REQUESTS + 1) / 3600)
    assert demand.daily_requests == pytest.approx(month / 30)
    # The generating distributions, within sampling error of 1,500 draws.
    assert demand.prompt.mean == pytest.approx(PROMPT_MEAN, rel=0.06)
    assert demand.prompt.sigma == pytest.approx(PROMPT_SIGMA, abs=0.05)
    assert demand.output.mean == pytest.approx(OUTPUT_MEAN, rel=0.06)
    assert demand.output.sigma == pytest.approx(OUTPUT_SIGMA, abs=0.05)
    assert chat.streamed_share == pytest.approx(0.7, abs=0.05)


@pytest.mark.postgres
def test_hours_are_utc_whatever_the_session_time_zone(postgres_url: str) -> None:
    """``date_trunc`` of a timestamptz cuts in the session's zone; Seoul is 9 hours off UTC, and
    India's half hour would merge two UTC hours into one."""
    rows = generated_ledger()
    for zone in ("Asia%2FSeoul", "Asia%2FKolkata"):
        engine = make_engine(f"{postgres_url}?options=-c%20timezone%3D{zone}")
        try:
            store = SqlUsageStore(engine)
            store.write_batch(rows)
            check_equal(store.hourly_demand(START, END), recomputed(rows, None))
        finally:
            engine.dispose()
