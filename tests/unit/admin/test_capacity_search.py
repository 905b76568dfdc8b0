"""The pruned sizing search skips only what cannot win: same ranking head as the full search.

An executor that does not simulate (it answers each configuration with a fleet from a table) makes
the search itself the thing under test, for many tables, in milliseconds; one real search checks
the pruning against the simulator.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from onshore.admin.capacity_search import pruned_size
from onshore.planner.catalog import gpu
from onshore.planner.cost import CostInputs, fleet_cost
from onshore.planner.demand import Demand
from onshore.planner.executor import SerialExecutor
from onshore.planner.sim.workload import LengthDist
from onshore.planner.sizing import Candidate, CandidateResult, SizingJob, Slo, default_candidates, size

DEMAND = Demand(50_000, 0.6, 1.2, LengthDist(800, 0.8), LengthDist(200, 0.6))
KEY = {"cost": "annual_cost_krw", "gpus": "gpus", "power": "facility_power_mw"}
CANDIDATES = default_candidates(["h100", "h200", "b200"], [1, 2, 4, 8], ["fp8", "fp4"], [256])


class TableExecutor:
    """Answers a configuration with ``replicas[(gpu, tp, precision)]`` replicas (None: infeasible)."""

    def __init__(self, replicas: dict[tuple[str, int, str], int | None]) -> None:
        self.replicas = replicas
        self.asked: list[Candidate] = []

    def map_unordered(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        for i, job in enumerate(items):
            assert isinstance(job, SizingJob)
            c = job.candidate
            self.asked.append(c)
            n = self.replicas[(c.gpu, c.tp, c.precision)]
            if n is None:
                yield i, CandidateResult(c, False, "does not fit")
            else:
                yield i, CandidateResult(c, True, "", 1.0, n, cost=fleet_cost(gpu(c.gpu), n * c.tp, 1e9, 1e8))


def search(executor: Any, prune: bool, objective: str) -> Any:
    run = pruned_size if prune else size
    return run("llama-3.1-8b", DEMAND, Slo(), CANDIDATES, executor, CostInputs(), objective)


@pytest.mark.parametrize("objective", ["cost", "gpus", "power"])
def test_pruning_never_changes_the_winner(objective: str) -> None:
    rng = random.Random(3)
    for _ in range(200):
        table: dict[tuple[str, int, str], int | None] = {
            (c.gpu, c.tp, c.precision): (None if rng.random() < 0.2 else rng.choice([1, 1, 2, 3, 5, 9, 40]))
            for c in CANDIDATES
        }
        full, pruned = (
            search(TableExecutor(table), False, objective),
            search(TableExecutor(table), True, objective),
        )
        assert [r.candidate for r in pruned.results] == list(CANDIDATES)
        best_full, best_pruned = full.best, pruned.best
        if best_full is None:
            assert best_pruned is None
            continue
        assert best_pruned is not None and best_full.cost is not None and best_pruned.cost is not None
        # The objective's value is the same; among equals (power is counted by the node) the
        # pruned search may keep another configuration.
        assert getattr(best_pruned.cost, KEY[objective]) == getattr(best_full.cost, KEY[objective])


def test_a_small_peak_simulates_one_tp_per_gpu_type() -> None:
    table: dict[tuple[str, int, str], int | None] = {(c.gpu, c.tp, c.precision): 1 for c in CANDIDATES}
    executor = TableExecutor(table)
    done: list[CandidateResult] = []
    result = pruned_size(
        "llama-3.1-8b", DEMAND, Slo(), CANDIDATES, executor, CostInputs(), "cost", done.append
    )
    assert {c.tp for c in executor.asked} == {1}
    assert len(done) == len(CANDIDATES)  # skipped ones are reported done too
    skipped = [r for r in result.results if r.reason.startswith("not simulated")]
    assert len(skipped) == len(CANDIDATES) - len(executor.asked)
    assert "serves the peak with 1 GPU(s)" in skipped[0].reason


def test_pruning_against_the_simulator() -> None:
    """TP1 on an H100 serves this peak in one replica: TP2 is never simulated, and the full search
    agrees that TP1 is the cheapest."""
    candidates = default_candidates(["h100"], [1, 2], ["fp8"], [256])
    pruned = pruned_size(
        "llama-3.1-8b", DEMAND, Slo(2000, 80), candidates, SerialExecutor(), CostInputs(), "cost"
    )
    assert pruned.best is not None and pruned.best.candidate.tp == 1 and pruned.best.replicas == 1
    assert pruned.results[1].reason.startswith("not simulated")
