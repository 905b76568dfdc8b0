"""Latency histograms: fixed log-spaced buckets, and percentiles read back within the exact one's bucket."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from onshore.domain.usage_series import (
    EMPTY_HISTOGRAM,
    LATENCY_BOUNDS_MS,
    LATENCY_BUCKETS,
    PeakHour,
    bucket_range_ms,
    histogram_of,
    latency_bucket,
    merge_histograms,
    nearest_rank,
    quantile_ms,
)


def test_the_buckets() -> None:
    assert LATENCY_BUCKETS == 42
    assert LATENCY_BOUNDS_MS[0] == 1.0 and LATENCY_BOUNDS_MS[-1] == 2.0**20
    assert [latency_bucket(v) for v in (0.0, 0.999, 1.0, 2**0.5, 1.5, 2.0, 2.0**20, 1e12)] == [
        0,
        0,
        1,
        2,
        2,
        3,
        41,
        41,
    ]
    for index in range(LATENCY_BUCKETS):
        low, high = bucket_range_ms(index)
        assert latency_bucket(low) == index
        assert high == float("inf") or latency_bucket(high) == index + 1


def test_an_empty_histogram_has_no_percentile() -> None:
    assert quantile_ms(EMPTY_HISTOGRAM, 0.5) is None


@pytest.mark.parametrize("seed", range(30))
def test_percentiles_land_in_the_exact_percentiles_bucket(seed: int) -> None:
    rng = random.Random(seed)
    values = [rng.lognormvariate(rng.uniform(0, 10), rng.uniform(0.1, 3)) for _ in range(rng.randint(1, 500))]
    values += [rng.choice([0.0, 1.0, 2**0.5, 2.0**20, 3e6]) for _ in range(rng.randint(0, 5))]
    histogram = histogram_of(values)
    ordered = sorted(values)
    for q in (0.01, 0.5, 0.9, 0.99, 1.0):
        exact = ordered[nearest_rank(q, len(ordered)) - 1]
        estimate = quantile_ms(histogram, q)
        assert estimate is not None
        assert latency_bucket(estimate) == latency_bucket(exact)


def test_nearest_rank_is_not_fooled_by_floating_point() -> None:
    assert nearest_rank(0.07, 100) == 7  # 0.07 * 100 == 7.000000000000001
    assert nearest_rank(0.5, 1) == 1 and nearest_rank(0.99, 100) == 99 and nearest_rank(0.001, 10) == 1


def test_histograms_merge_by_adding() -> None:
    a, b = histogram_of([1.0, 5.0]), histogram_of([5.0, 1e9])
    assert merge_histograms([a, b]) == histogram_of([1.0, 5.0, 5.0, 1e9])


def test_peak_hour_means_are_per_billable_request() -> None:
    peak = PeakHour(
        datetime(2026, 12, 1, tzinfo=UTC),
        requests=10,
        billable_requests=4,
        prompt_tokens=400,
        completion_tokens=100,
    )
    assert (peak.mean_prompt_tokens, peak.mean_completion_tokens) == (100.0, 25.0)
    assert PeakHour(peak.hour, 3, 0, 0, 0).mean_prompt_tokens == 0.0
