"""The ledger's demand per UTC hour and model: what the capacity planner needs from it.

One value per (hour, model) of billable rows (see ``onshore.domain.usage``). Besides counts and
token sums it keeps the sums of the logarithms of the token counts and of their squares, so the
log-normal length distribution the planner samples from (``planner.sim.workload.LengthDist``:
an arithmetic mean and the standard deviation of the logarithms) is recovered exactly from one
GROUP BY, and two values (two organisations, two hours) add up without reading rows again.
A count of 0 tokens is taken as 1 in the logarithms (an embedding row has no completion).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class TokenStats:
    """Sums over requests of one token count (prompt or completion)."""

    total: int = 0
    log_sum: float = 0.0  # sum of ln(max(tokens, 1))
    log_sq_sum: float = 0.0  # sum of ln(max(tokens, 1)) ** 2
    largest: int = 0

    def __add__(self, other: TokenStats) -> TokenStats:
        return TokenStats(
            self.total + other.total,
            self.log_sum + other.log_sum,
            self.log_sq_sum + other.log_sq_sum,
            max(self.largest, other.largest),
        )

    def mean(self, requests: int) -> float:
        return self.total / requests if requests else 0.0

    def log_sigma(self, requests: int) -> float:
        """Standard deviation of ln(tokens) over ``requests`` (population, like numpy's std)."""
        if requests < 2:
            return 0.0
        mu = self.log_sum / requests
        # Rounding can make the variance a hair below zero when every count is the same.
        return math.sqrt(max(self.log_sq_sum / requests - mu * mu, 0.0))


@dataclass(frozen=True, slots=True)
class HourlyDemand:
    """Billable requests of one model in one UTC hour ``[hour, hour + 1 h)``."""

    hour: datetime  # aware, UTC, on the hour
    model: str
    requests: int
    streamed: int  # how many of them were streamed
    prompt: TokenStats
    completion: TokenStats

    @property
    def streamed_share(self) -> float:
        return self.streamed / self.requests if self.requests else 0.0

    @property
    def prompt_mean(self) -> float:
        return self.prompt.mean(self.requests)

    @property
    def completion_mean(self) -> float:
        return self.completion.mean(self.requests)

    @property
    def prompt_log_sigma(self) -> float:
        return self.prompt.log_sigma(self.requests)

    @property
    def completion_log_sigma(self) -> float:
        return self.completion.log_sigma(self.requests)

    def __add__(self, other: HourlyDemand) -> HourlyDemand:
        """The two together, under this one's hour and model (callers add like to like)."""
        return HourlyDemand(
            self.hour,
            self.model,
            self.requests + other.requests,
            self.streamed + other.streamed,
            self.prompt + other.prompt,
            self.completion + other.completion,
        )


@dataclass(frozen=True, slots=True)
class OrgHourlyDemand:
    """One organisation's billable requests of one model in one UTC hour, Batch API rows apart.

    ``batch`` is True for rows of Batch API requests (the ledger's ``batch_id`` is set): work with a
    completion window rather than a latency target, which capacity planning keeps out of the peak.
    ``org_id`` is None for rows without an organisation. ``demand.model`` and ``demand.hour`` say
    which model and hour.
    """

    org_id: str | None
    batch: bool
    demand: HourlyDemand

    @property
    def hour(self) -> datetime:
        return self.demand.hour

    @property
    def model(self) -> str:
        return self.demand.model
