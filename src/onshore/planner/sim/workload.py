"""Requests the simulator serves: arrival times and token lengths, drawn from an explicit RNG."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from onshore.planner.errors import PlannerError
from onshore.planner.sim.lengths import LengthDist

__all__ = [
    "LengthDist",
    "Workload",
    "closed_loop",
    "offline",
    "offline_in_flight",
    "poisson",
    "with_prefix_hits",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Workload:
    """``n`` requests. ``arrival`` is None for a closed loop of ``concurrency`` clients."""

    prompt: IntArray
    output: IntArray
    arrival: FloatArray | None = None
    concurrency: int = 0
    # prompt tokens already in the prefix cache when the request arrives (None: none): only the rest
    # is prefilled, but the whole prompt holds KV blocks
    cached: IntArray | None = None

    def __post_init__(self) -> None:
        if self.arrival is None and self.concurrency < 1:
            raise PlannerError("a closed-loop workload needs concurrency >= 1")
        if len(self.prompt) != len(self.output) or len(self.prompt) == 0:
            raise PlannerError("workload needs the same, non-zero number of prompts and outputs")
        if self.cached is not None and (
            len(self.cached) != len(self.prompt)
            or (self.cached < 0).any()
            or (self.cached >= self.prompt).any()
        ):
            raise PlannerError("cached prefixes must be >= 0 and shorter than their prompts")

    @property
    def n(self) -> int:
        return len(self.prompt)

    @property
    def prefix_hit_rate(self) -> float:
        """Share of all prompt tokens served from the prefix cache."""
        return 0.0 if self.cached is None else float(self.cached.sum() / self.prompt.sum())


def with_prefix_hits(work: Workload, hit_rate: float, block_tokens: int = 16) -> Workload:
    """``work`` with ``hit_rate`` of each prompt already cached, rounded down to whole KV blocks.

    vLLM's automatic prefix caching reuses full blocks only (16 tokens by default, the simulator's
    ``BLOCK_TOKENS``) and always recomputes at least the prompt's last token (it needs its
    logits), hence the rounding and the cap. A rate of 0 returns ``work`` itself, so results
    without prefix caching are unchanged to the bit.
    """
    if not 0.0 <= hit_rate <= 1.0:
        raise PlannerError(f"prefix cache hit rate must be between 0 and 1, got {hit_rate}")
    if hit_rate == 0.0:
        return work
    blocks = np.floor(hit_rate * work.prompt / block_tokens).astype(np.int64)
    cached = np.minimum(blocks * block_tokens, work.prompt - 1)
    return replace(work, cached=cached)


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


def offline_in_flight(
    rng: np.random.Generator,
    running: int,
    n: int,
    prompt: LengthDist,
    output: LengthDist,
    prefix_hit_rate: float = 0.0,
) -> Workload:
    """``running`` requests caught part-way through decoding, as in a saturated steady state, then
    ``n`` new ones, all present at time zero and admitted in that order.

    A slot of a saturated engine holds a request with probability proportional to how long it stays
    (its output length, in decode steps), caught at a uniform point of its decode: the requests in
    flight are drawn length-biased and cut at a uniform point. The tokens already generated join
    the prompt as a cached prefix (context in KV, nothing to prefill but the last token), and only
    the rest of the output is left to decode. Started this way, completions come at their long-run
    rate from the start (an equilibrium renewal process), where an all-at-once start (``offline``)
    finishes the short requests of its first wave together.
    """
    pool_p, pool_o = prompt.sample(rng, 8 * running), output.sample(rng, 8 * running)
    pick = rng.choice(len(pool_o), running, p=pool_o / pool_o.sum())
    p, o = pool_p[pick], pool_o[pick]
    done = np.floor(rng.random(running) * o).astype(np.int64)  # 0 .. o - 1 tokens generated
    fresh = with_prefix_hits(offline(rng, n, prompt, output), prefix_hit_rate)
    fresh_cached = np.zeros(n, dtype=np.int64) if fresh.cached is None else fresh.cached
    return Workload(
        np.concatenate([p + done, fresh.prompt]),
        np.concatenate([o - done, fresh.output]),
        np.zeros(running + n),
        cached=np.concatenate([p + done - 1, fresh_cached]),
    )


def closed_loop(
    rng: np.random.Generator,
    concurrency: int,
    n: int,
    prompt: LengthDist,
    output: LengthDist,
) -> Workload:
    """``concurrency`` clients, all sending their first request at once, each sending its next one
    when the previous one finishes. With identical lengths they stay in lock-step waves; ``predict``
    spreads fixed answer lengths so that they drift apart (``calibration.CLOSED_LOOP_DRIFT``)."""
    return Workload(prompt.sample(rng, n), output.sample(rng, n), None, concurrency)
