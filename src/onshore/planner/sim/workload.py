"""Requests the simulator serves: arrival times and token lengths, drawn from an explicit RNG."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from onshore.planner.errors import PlannerError

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class LengthDist:
    """Token-length distribution: fixed (``sigma == 0``) or log-normal with mean ``mean``.

    Log-normal matches the long right tail of chat prompts and answers (Azure/Splitwise traces).
    """

    mean: float
    sigma: float = 0.0
    low: int = 1
    high: int = 131072

    def sample(self, rng: np.random.Generator, n: int) -> IntArray:
        if self.mean < 1:
            raise PlannerError(f"token length mean must be >= 1, got {self.mean}")
        if self.sigma <= 0:
            values = np.full(n, self.mean)
        else:
            mu = np.log(self.mean) - self.sigma**2 / 2.0
            values = rng.lognormal(mu, self.sigma, n)
        out: IntArray = np.clip(np.rint(values), self.low, self.high).astype(np.int64)
        return out


@dataclass(frozen=True, slots=True)
class Workload:
    """``n`` requests. ``arrival`` is None for a closed loop of ``concurrency`` clients."""

    prompt: IntArray
    output: IntArray
    arrival: FloatArray | None = None
    concurrency: int = 0
    client_start: FloatArray | None = None  # closed loop: when each client sends its first request

    def __post_init__(self) -> None:
        if self.arrival is None and self.concurrency < 1:
            raise PlannerError("a closed-loop workload needs concurrency >= 1")
        if len(self.prompt) != len(self.output) or len(self.prompt) == 0:
            raise PlannerError("workload needs the same, non-zero number of prompts and outputs")

    @property
    def n(self) -> int:
        return len(self.prompt)


def poisson(
    rng: np.random.Generator, rate: float, n: int, prompt: LengthDist, output: LengthDist
) -> Workload:
    """Open loop: Poisson arrivals at ``rate`` requests/s."""
    if rate <= 0:
        raise PlannerError(f"arrival rate must be > 0, got {rate}")
    arrival = np.cumsum(rng.exponential(1.0 / rate, n))
    return Workload(prompt.sample(rng, n), output.sample(rng, n), arrival - arrival[0])


def offline(rng: np.random.Generator, n: int, prompt: LengthDist, output: LengthDist) -> Workload:
    """Every request present at time zero (maximum-throughput runs)."""
    return Workload(prompt.sample(rng, n), output.sample(rng, n), np.zeros(n))


def closed_loop(
    rng: np.random.Generator,
    concurrency: int,
    n: int,
    prompt: LengthDist,
    output: LengthDist,
    stagger_s: float = 0.0,
) -> Workload:
    """``concurrency`` clients, each sending its next request when the previous one finishes.

    With ``stagger_s`` > 0 the clients start at uniform random times in ``[0, stagger_s)``, as
    they drift apart in a long benchmark; with 0 they all start together (lock-step waves).
    """
    start = np.sort(rng.uniform(0.0, stagger_s, concurrency)) if stagger_s > 0 else np.zeros(concurrency)
    return Workload(prompt.sample(rng, n), output.sample(rng, n), None, concurrency, start)
