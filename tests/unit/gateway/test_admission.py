"""What admission asks the counter store, and how refusals and headers are worded (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from onshore.domain.counters import Admission, CounterState
from onshore.domain.limits import Limits
from onshore.errors import QuotaExceeded, RateLimited
from onshore.gateway.admission import (
    Demand,
    month_period,
    openai_duration,
    plan,
    rate_limit_headers,
    refusal,
    requested_output,
    settle_amounts,
)

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "0ms"),
        (120, "120ms"),
        (999.2, "1s"),
        (1000, "1s"),
        (8640, "8.64s"),
        (59_999, "59.999s"),
        (60_000, "1m0s"),
        (360_000, "6m0s"),
        (3_723_500, "1h2m3.5s"),
    ],
)
def test_durations_are_written_as_openai_writes_them(ms: float, text: str) -> None:
    assert openai_duration(ms) == text


def test_month_period_is_the_utc_calendar_month() -> None:
    period, left_ms = month_period(datetime(2026, 12, 31, 23, 59, tzinfo=UTC))
    assert period == "2026-12" and left_ms == 60_000


def test_every_limit_of_key_and_org_becomes_one_counter_under_the_org_hash_tag() -> None:
    key = Limits(rpm=10, tpm=1000)
    org = Limits(rpm=100, max_concurrent=5, monthly_tokens=10**6, monthly_budget_krw=50_000)
    p = plan("org_1", "key_1", key, org, Demand(tokens=300, cost_milli_krw=7, explicit=True), NOW)
    assert [c.key for c in p.counters] == [
        "{org_1}:k:key_1:rpm",
        "{org_1}:k:key_1:tpm",
        "{org_1}:o:rpm",
        "{org_1}:o:conc",
        "{org_1}:o:mt:2026-12",
        "{org_1}:o:krw:2026-12",
    ]
    amounts = {c.key.split(":", 1)[1]: (c.amount, c.limit, c.window_ms) for c in p.counters}
    assert amounts["k:key_1:tpm"] == (300, 1000, 60_000)
    assert amounts["o:krw:2026-12"] == (7, 50_000_000, 0)  # milli-won
    assert amounts["o:conc"] == (1, 5, 0)
    assert settle_amounts(p, tokens=120, cost_milli_krw=3) == [1, 120, 1, 0, 120, 3]


def test_a_guessed_output_never_makes_a_request_impossible_but_an_explicit_one_can() -> None:
    limits = Limits(tpm=1000)
    guessed = plan("o", "k", limits, None, Demand(tokens=5000, cost_milli_krw=0, explicit=False), NOW)
    explicit = plan("o", "k", limits, None, Demand(tokens=5000, cost_milli_krw=0, explicit=True), NOW)
    assert guessed.counters[0].amount == 1000
    assert explicit.counters[0].amount == 5000


def _admission(p_states: list[CounterState], refused: int | None) -> Admission:
    return Admission(granted=refused is None, states=tuple(p_states), refused=refused)


def test_a_spent_budget_is_insufficient_quota_and_tells_sdks_not_to_retry() -> None:
    p = plan("o", "k", None, Limits(monthly_budget_krw=10), Demand(50, 20, True), NOW)
    error = refusal(p, _admission([CounterState(9_990, 10_000, 0)], 0), NOW)
    assert isinstance(error, QuotaExceeded)
    assert (error.status, error.code, error.error_type) == (429, "insufficient_quota", "insufficient_quota")
    headers = dict(error.headers)
    assert headers[b"x-should-retry"] == b"false"
    assert int(headers[b"retry-after"]) > 0  # until the month ends


def test_a_rate_refusal_says_when_to_retry_in_seconds_and_milliseconds() -> None:
    p = plan("o", "k", Limits(rpm=2), None, Demand(10, 0, True), NOW)
    error = refusal(p, _admission([CounterState(2, 2, 1_250)], 0), NOW)
    assert type(error) is RateLimited and error.code == "rate_limit_exceeded"
    headers = dict(error.headers)
    assert headers[b"retry-after"] == b"2" and headers[b"retry-after-ms"] == b"1250"
    assert b"x-should-retry" not in headers
    assert "1.25s" in error.message and "Limit 2, Used 2, Requested 1" in error.message


def test_a_request_larger_than_the_whole_limit_is_not_worth_retrying() -> None:
    p = plan("o", "k", Limits(tpm=100), None, Demand(500, 0, True), NOW)
    error = refusal(p, _admission([CounterState(0, 100, 60_000)], 0), NOW)
    assert dict(error.headers)[b"x-should-retry"] == b"false"
    assert "Request too large" in error.message


def test_headers_describe_the_tightest_limit_of_each_kind() -> None:
    p = plan("o", "k", Limits(rpm=10, tpm=1000), Limits(rpm=100, tpm=500), Demand(10, 0, True), NOW)
    states = (
        CounterState(3, 10, 50_000),  # key rpm: 7 left
        CounterState(100, 1000, 50_000),  # key tpm: 900 left
        CounterState(95, 100, 20_000),  # org rpm: 5 left -> tightest
        CounterState(200, 500, 30_000),  # org tpm: 300 left -> tightest
    )
    assert dict(rate_limit_headers(p, states)) == {
        b"x-ratelimit-limit-requests": b"100",
        b"x-ratelimit-remaining-requests": b"5",
        b"x-ratelimit-reset-requests": b"20s",
        b"x-ratelimit-limit-tokens": b"500",
        b"x-ratelimit-remaining-tokens": b"300",
        b"x-ratelimit-reset-tokens": b"30s",
    }


def test_no_per_minute_limit_means_no_rate_limit_headers() -> None:
    p = plan("o", "k", None, Limits(monthly_tokens=10), Demand(1, 0, True), NOW)
    assert rate_limit_headers(p, (CounterState(1, 10, 0),)) == []


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({}, None),
        ({"max_tokens": 64}, 64),
        ({"max_completion_tokens": 32, "max_tokens": 64}, 32),
        ({"max_tokens": 10, "n": 3}, 30),
        ({"max_tokens": True}, None),
        ({"max_tokens": "9"}, None),
    ],
)
def test_requested_output(payload: dict[str, object], expected: int | None) -> None:
    assert requested_output(payload) == expected
