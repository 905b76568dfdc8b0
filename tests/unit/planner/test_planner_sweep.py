"""The sizing sweep: pruning by a lower bound, and the Dask and Ray executors against the serial one."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from onshore.planner import sweep
from onshore.planner.cluster import DaskExecutor, RayExecutor
from onshore.planner.cost import CostInputs
from onshore.planner.demand import UserDemand, from_users
from onshore.planner.errors import PlannerError
from onshore.planner.executor import LocalProcessExecutor, SerialExecutor, make_executor
from onshore.planner.sizing import Candidate, SizingJob, Slo, fleet_floor, size

DEMAND = from_users(UserDemand(mau=2e6, prompt_mean=500, output_mean=150))
CANDIDATES = [
    Candidate("h100", 1, "fp8", 128),
    Candidate("h100", 2, "fp8", 128),
    Candidate("b200", 1, "fp8", 128),
    Candidate("b200", 1, "fp4", 128),
]


def test_sweep_prunes_only_what_cannot_enter_the_top() -> None:
    values = [7.0, 3.0, 9.0, 1.0, 5.0, 8.0, None, 2.0]  # None: an infeasible result

    def score(v: float | None) -> float | None:
        return v

    pruned = dict(
        sweep.run(
            list(range(len(values))),
            SerialExecutor(),
            lambda i: values[i],
            lambda i: (values[i] or 0.0) - 0.5,  # a floor just under each value
            score,
            lambda i, floor, bar: None,
            keep=3,
        )
    )
    assert sorted(pruned) == list(range(len(values)))
    kept = sorted(v for v in pruned.values() if v is not None)
    assert kept[:3] == [1.0, 2.0, 3.0]  # the top 3 of the exhaustive sweep, exactly
    assert pruned[2] is None and pruned[5] is None  # 9 and 8 were never evaluated


def test_pruned_search_has_the_exhaustive_winner_and_floors_bound_results() -> None:
    full = size("llama-3.1-8b", DEMAND, Slo(2000, 80), CANDIDATES, SerialExecutor(), keep=None)
    pruned = size("llama-3.1-8b", DEMAND, Slo(2000, 80), CANDIDATES, SerialExecutor(), keep=1)
    assert full.best is not None and pruned.best == full.best
    skipped = [r for r in pruned.results if r.reason.startswith("not simulated")]
    assert skipped and all(not r.feasible for r in skipped)
    for r in full.feasible:  # the floor is a lower bound of what the evaluation finds
        job = SizingJob("llama-3.1-8b", r.candidate, DEMAND, Slo(2000, 80), CostInputs())
        floor = fleet_floor(job)
        assert floor is not None and r.cost is not None
        assert floor.gpus <= r.cost.gpus and floor.annual_cost_krw <= r.cost.annual_cost_krw
        assert r.rate_per_replica * math.ceil(DEMAND.peak_rps / r.rate_per_replica) >= DEMAND.peak_rps


def test_dask_sweep_gives_the_serial_answer() -> None:
    serial = size("llama-3.1-8b", DEMAND, Slo(2000, 80), CANDIDATES[:3], SerialExecutor(), keep=None)
    with DaskExecutor(workers=2, processes=False) as dask:
        assert dask.parallelism == 2
        on_dask = size("llama-3.1-8b", DEMAND, Slo(2000, 80), CANDIDATES[:3], dask, keep=None)
        pruned = size("llama-3.1-8b", DEMAND, Slo(2000, 80), CANDIDATES[:3], dask, keep=1)
    assert on_dask.results == serial.results  # every number, curve and cost
    assert pruned.best == serial.best


def test_ray_sweep_gives_the_serial_answer() -> None:
    serial = size("llama-3.1-8b", DEMAND, Slo(2000, 80), CANDIDATES[3:], SerialExecutor(), keep=None)
    with RayExecutor(workers=2) as ray_ex:
        assert ray_ex.parallelism == 2
        on_ray = size("llama-3.1-8b", DEMAND, Slo(2000, 80), CANDIDATES[3:], ray_ex, keep=None)
    assert on_ray.results == serial.results


def test_local_pool_is_kept_across_rounds_and_closed() -> None:
    with LocalProcessExecutor(2) as pool:
        assert sorted(pool.map_unordered(abs, [-1, -2])) == [(0, 1), (1, 2)]
        started = pool._pool
        assert started is not None
        assert sorted(pool.map_unordered(abs, [-3, 4])) == [(0, 3), (1, 4)]
        assert pool._pool is started
    assert pool._pool is None
    assert sorted(pool.map_unordered(abs, [-5, 6])) == [(0, 5), (1, 6)]  # outside a with: a pool per call
    assert pool._pool is None


def test_executors_by_name_and_without_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(make_executor("serial"), SerialExecutor)
    assert make_executor("local", 3).parallelism == 3
    with pytest.raises(PlannerError, match="unknown executor"):
        make_executor("spark")
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the planner-cluster extra were missing
    with pytest.raises(PlannerError, match="planner-cluster"):
        list(make_executor("ray").map_unordered(abs, [1]))


def test_the_planner_imports_without_dask_or_ray() -> None:
    code = (
        "import sys, onshore.planner, onshore.planner.cluster, onshore.planner.sizing;"
        "assert not {'dask', 'distributed', 'ray'} & set(sys.modules), 'imported eagerly'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
