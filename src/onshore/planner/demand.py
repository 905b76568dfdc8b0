"""Demand: from users (or a usage ledger) to the arrival process at the daily peak.

Arithmetic, all per day: daily users = MAU x DAU/MAU; requests = daily users x requests per daily
user; average rate = requests / 86,400 s; peak rate = average x diurnal peak-to-average ratio.
Token rates at the peak are the peak rate times the mean prompt and output lengths.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from onshore.planner.errors import PlannerError
from onshore.planner.ports import UsageReader
from onshore.planner.sim.workload import LengthDist

SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class UserDemand:
    """Demand assumptions (defaults: the Korea worked example in docs/planner.md)."""

    mau: float = 20.31e6
    dau_per_mau: float = 0.35
    requests_per_daily_user: float = 12.0
    peak_to_average: float = 2.0
    prompt_mean: float = 1200.0
    prompt_sigma: float = 0.9
    output_mean: float = 400.0
    output_sigma: float = 0.7
    max_tokens: int = 16384


@dataclass(frozen=True, slots=True)
class Demand:
    """The arrival process the fleet must serve at its peak."""

    daily_requests: float
    average_rps: float
    peak_rps: float
    prompt: LengthDist
    output: LengthDist
    prefix_hit_rate: float = 0.0  # share of each prompt already in the prefix cache

    @property
    def peak_input_tokens_per_s(self) -> float:
        return self.peak_rps * self.prompt.mean

    @property
    def peak_output_tokens_per_s(self) -> float:
        return self.peak_rps * self.output.mean

    @property
    def daily_tokens(self) -> float:
        return self.daily_requests * (self.prompt.mean + self.output.mean)

    @property
    def daily_output_tokens(self) -> float:
        return self.daily_requests * self.output.mean

    def scaled(self, factor: float) -> Demand:
        """The same demand with ``factor`` times the requests (growth planning)."""
        return Demand(
            self.daily_requests * factor,
            self.average_rps * factor,
            self.peak_rps * factor,
            self.prompt,
            self.output,
            self.prefix_hit_rate,
        )


def from_users(d: UserDemand) -> Demand:
    """Peak arrival process from user counts (see the module docstring for the arithmetic)."""
    for name in (
        "mau",
        "dau_per_mau",
        "requests_per_daily_user",
        "peak_to_average",
        "prompt_mean",
        "output_mean",
    ):
        if getattr(d, name) <= 0:
            raise PlannerError(f"{name} must be > 0")
    if d.dau_per_mau > 1:
        raise PlannerError("dau_per_mau is a ratio between 0 and 1")
    if d.peak_to_average < 1:
        raise PlannerError("peak_to_average must be >= 1")
    daily = d.mau * d.dau_per_mau * d.requests_per_daily_user
    avg = daily / SECONDS_PER_DAY
    return Demand(
        daily_requests=daily,
        average_rps=avg,
        peak_rps=avg * d.peak_to_average,
        prompt=LengthDist(d.prompt_mean, d.prompt_sigma, 1, d.max_tokens),
        output=LengthDist(d.output_mean, d.output_sigma, 1, d.max_tokens),
    )


def _lognormal_sigma(values: npt.NDArray[np.float64]) -> float:
    logs = np.log(np.maximum(values, 1))
    return float(logs.std()) if values.size > 1 else 0.0


def from_usage(
    reader: UsageReader,
    start: datetime | None = None,
    end: datetime | None = None,
    bucket_s: float = 3600.0,
    growth: float = 1.0,
    max_tokens: int = 16384,
) -> Demand:
    """Demand measured from a usage ledger: the busiest ``bucket_s`` window is the peak.

    Daily requests are the observed total divided by the observed span in days; ``growth``
    multiplies the request counts (plan for 3x today's traffic with ``growth=3``).
    """
    rows = list(reader.usage_records(start, end))
    if len(rows) < 2:
        raise PlannerError("the usage ledger has fewer than 2 requests in that window")
    t = np.array([r.time for r in rows], dtype=np.float64)
    prompt = np.array([r.prompt_tokens for r in rows], dtype=np.float64)
    output = np.array([r.completion_tokens for r in rows], dtype=np.float64)
    span = max(float(t.max() - t.min()), bucket_s)
    buckets = np.bincount(((t - t.min()) // bucket_s).astype(np.int64))
    avg = len(rows) / span
    peak = max(float(buckets.max()) / bucket_s, avg)
    days = max(span / SECONDS_PER_DAY, 1.0 / 24)
    demand = Demand(
        daily_requests=len(rows) / days,
        average_rps=avg,
        peak_rps=peak,
        prompt=LengthDist(max(float(prompt.mean()), 1.0), _lognormal_sigma(prompt), 1, max_tokens),
        output=LengthDist(max(float(output.mean()), 1.0), _lognormal_sigma(output), 1, max_tokens),
    )
    if not math.isfinite(growth) or growth <= 0:
        raise PlannerError("growth must be a positive number")
    return demand.scaled(growth)
