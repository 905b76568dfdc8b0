"""Global routing: which replica serves each request, decided up front.

Deciding up front lets each replica be simulated independently (and all of them in lock-step
numpy arrays). With identical replicas and Poisson arrivals, round-robin is close to
least-outstanding-requests; ``random`` is the pessimistic baseline.
"""

from __future__ import annotations

import numpy as np

from onshore.planner.errors import PlannerError
from onshore.planner.sim.workload import IntArray

ROUTERS = ("round_robin", "random")


def assign(n: int, replicas: int, policy: str, rng: np.random.Generator) -> IntArray:
    """Replica index for each of ``n`` requests, in arrival order."""
    if replicas < 1:
        raise PlannerError("need at least one replica")
    if policy == "round_robin":
        return np.arange(n, dtype=np.int64) % replicas
    if policy == "random":
        return rng.integers(0, replicas, n).astype(np.int64)
    raise PlannerError(f"unknown router {policy!r}; use one of {', '.join(ROUTERS)}")
