"""Discrete-time simulation of continuous-batching engines behind a router."""

from onshore.planner.sim.config import EngineConfig
from onshore.planner.sim.engine import simulate
from onshore.planner.sim.metrics import SimResult, Summary, summarise
from onshore.planner.sim.workload import LengthDist, Workload, closed_loop, offline, poisson

__all__ = [
    "EngineConfig",
    "LengthDist",
    "SimResult",
    "Summary",
    "Workload",
    "closed_loop",
    "offline",
    "poisson",
    "simulate",
    "summarise",
]
