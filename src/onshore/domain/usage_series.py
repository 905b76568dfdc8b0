"""Usage over time, as the dashboard charts it: points of an hourly rollup of the ledger.

The ledger (one row per request) is summed per UTC hour, organisation, model and backend as rows are
inserted (``store/sql/rollup_triggers.py``); a point of a series is such sums over a bucket of time
(an hour, a UTC day, a UTC month) and, optionally, one group (an organisation, a model, a backend).

Latency is kept as a histogram of fixed, log-spaced buckets, so percentiles of any bucket of time
and any group can be read back without the rows: bucket 0 holds latencies below 1 ms, bucket ``k``
(1 to 40) those in ``[2**((k-1)/2), 2**(k/2))`` ms, and bucket 41 those of ``2**20`` ms (17.5 min)
and more. A percentile read from it lies in the same bucket as the exact one, so it is within a
factor of sqrt(2) (41 %) of it, and usually much closer: it is interpolated inside the bucket.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Bucket = Literal["hour", "day", "month"]
GroupBy = Literal["org", "model", "backend"]
BUCKETS: tuple[Bucket, ...] = ("hour", "day", "month")
GROUP_BYS: tuple[GroupBy, ...] = ("org", "model", "backend")

# The lower bounds of buckets 1..41, in milliseconds: 2**(k/2) for k = 0..40. Fixed forever: the
# rollup's columns are counts of these buckets (a new spacing would be new columns beside them).
LATENCY_BOUNDS_MS: tuple[float, ...] = tuple(2 ** (k / 2) for k in range(41))
LATENCY_BUCKETS = len(LATENCY_BOUNDS_MS) + 1
EMPTY_HISTOGRAM: tuple[int, ...] = (0,) * LATENCY_BUCKETS


def latency_bucket(latency_ms: float) -> int:
    """The histogram bucket of one latency (the same rule as the SQL of the rollup)."""
    return bisect_right(LATENCY_BOUNDS_MS, latency_ms)


def bucket_range_ms(index: int) -> tuple[float, float]:
    """``[low, high)`` of bucket ``index`` in ms; the last bucket's high is infinite."""
    low = 0.0 if index == 0 else LATENCY_BOUNDS_MS[index - 1]
    high = LATENCY_BOUNDS_MS[index] if index < len(LATENCY_BOUNDS_MS) else float("inf")
    return low, high


def histogram_of(latencies_ms: Iterable[float]) -> tuple[int, ...]:
    """The histogram of some latencies (tests and in-memory readers)."""
    counts = [0] * LATENCY_BUCKETS
    for value in latencies_ms:
        counts[latency_bucket(value)] += 1
    return tuple(counts)


def merge_histograms(histograms: Iterable[Sequence[int]]) -> tuple[int, ...]:
    """Bucket by bucket sums (column sums through ``zip``: a chart merges thousands of them)."""
    several = list(histograms)
    if not several:
        return EMPTY_HISTOGRAM
    if len(several) == 1:
        return tuple(several[0])
    return tuple(map(sum, zip(*several, strict=True)))


def nearest_rank(q: float, count: int) -> int:
    """The 1-based rank of the ``q`` quantile of ``count`` values: ``ceil(q * count)``, at least 1.

    The small tolerance keeps 0.07 * 100 (7.000000000000001 in floating point) at rank 7.
    """
    return min(count, max(1, math.ceil(q * count - 1e-9)))


def quantile_ms(histogram: Sequence[int], q: float) -> float | None:
    """The ``q`` quantile (0 < q <= 1) of a latency histogram, in ms; None when it is empty.

    The bucket is the one holding the nearest-rank value (the ``ceil(q * n)``-th smallest), so the
    answer lies in the same bucket as the exact percentile. Inside it the rank is interpolated
    geometrically (linearly in the first bucket, which starts at 0); the open last bucket answers
    its lower bound.
    """
    total = sum(histogram)
    if total == 0:
        return None
    rank = nearest_rank(q, total)
    seen = 0
    for index, count in enumerate(histogram):
        if count and seen + count >= rank:
            low, high = bucket_range_ms(index)
            within = (rank - seen - 0.5) / count  # strictly inside (0, 1): never the next bucket's bound
            if high == float("inf"):
                return low
            if low == 0.0:
                return high * within
            return float(low * (high / low) ** within)
        seen += count
    raise AssertionError("unreachable: rank <= total")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One bucket of time for one group (``group`` is None for the whole, or for rows without one).

    ``group`` is an organisation id, a model or a backend name, as grouped. ``requests`` counts every
    request; ``errors`` those answered with a status of 400 or more; ``billable_requests`` those that
    produced usage (see ``onshore.domain.usage``). Tokens and cost are sums over the rows (rows that
    are not billable carry none); ``cost_micro_krw`` counts rows without a price as 0.
    """

    start: datetime
    group: str | None
    requests: int
    errors: int
    billable_requests: int
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int
    total_tokens: int
    cost_micro_krw: int
    latency_histogram: tuple[int, ...]

    @property
    def p50_ms(self) -> float | None:
        return quantile_ms(self.latency_histogram, 0.5)

    @property
    def p99_ms(self) -> float | None:
        return quantile_ms(self.latency_histogram, 0.99)


def sum_points(points: Sequence[SeriesPoint], start: datetime, group: str | None) -> SeriesPoint:
    """Several points as one (the "other" groups of a chart, or a total)."""
    if len(points) == 1 and points[0].start == start and points[0].group == group:
        return points[0]
    return SeriesPoint(
        start=start,
        group=group,
        requests=sum(p.requests for p in points),
        errors=sum(p.errors for p in points),
        billable_requests=sum(p.billable_requests for p in points),
        prompt_tokens=sum(p.prompt_tokens for p in points),
        cached_tokens=sum(p.cached_tokens for p in points),
        completion_tokens=sum(p.completion_tokens for p in points),
        total_tokens=sum(p.total_tokens for p in points),
        cost_micro_krw=sum(p.cost_micro_krw for p in points),
        latency_histogram=merge_histograms(p.latency_histogram for p in points),
    )


@dataclass(frozen=True, slots=True)
class PeakHour:
    """The busiest UTC hour of a period by requests (the earliest of equals), for capacity planning.

    Means are per billable request (those that produced tokens); 0.0 when there were none.
    """

    hour: datetime
    requests: int
    billable_requests: int
    prompt_tokens: int
    completion_tokens: int

    @property
    def mean_prompt_tokens(self) -> float:
        return self.prompt_tokens / self.billable_requests if self.billable_requests else 0.0

    @property
    def mean_completion_tokens(self) -> float:
        return self.completion_tokens / self.billable_requests if self.billable_requests else 0.0
