"""The sizing search of a capacity plan, pruned where a configuration provably cannot win.

A fleet's cost, power and GPU count depend only on its GPU type and how many GPUs it has, and grow
with that number (``planner.cost.fleet_cost``). A configuration with tensor parallelism ``tp``
needs at least ``tp`` GPUs, so once some configuration of a GPU type fits the peak in ``n`` GPUs,
no configuration of that type with ``tp >= n`` can be cheaper, use less power or fewer GPUs. The
search therefore runs in rounds of increasing TP (each round through the caller's executor, every
GPU type and precision of that TP together) and skips what the rounds before have beaten; a
skipped configuration is listed with the reason. At the demand of a pilot (a few requests a
second, one replica) this simulates 3 configurations instead of 12; at national scale, where every
TP needs many replicas, it skips nothing and costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from onshore.planner.cost import CostInputs
from onshore.planner.demand import Demand
from onshore.planner.ports import Executor
from onshore.planner.sizing import Candidate, CandidateResult, SizingResult, Slo, size


def pruned_size(
    model: str,
    demand: Demand,
    slo: Slo,
    candidates: Sequence[Candidate],
    executor: Executor,
    costs: CostInputs,
    objective: str,
    on_done: Callable[[CandidateResult], None] | None = None,
) -> SizingResult:
    """``planner.sizing.size`` over ``candidates``, minus those a smaller TP already beat.

    The results come back in the order of ``candidates``, skipped ones included (infeasible, with
    "not simulated: ..." as the reason), so the ranking is ``size``'s own.
    """
    done: dict[Candidate, CandidateResult] = {}
    fewest: dict[str, int] = {}  # GPU type -> fewest GPUs a feasible configuration needs so far
    for tp in sorted({c.tp for c in candidates}):
        batch = []
        for c in candidates:
            if c.tp != tp:
                continue
            if c.gpu in fewest and fewest[c.gpu] <= tp:
                skipped = CandidateResult(
                    c,
                    False,
                    f"not simulated: a smaller TP on {c.gpu} serves the peak with {fewest[c.gpu]} GPU(s)",
                )
                done[c] = skipped
                if on_done is not None:
                    on_done(skipped)
            else:
                batch.append(c)
        if not batch:
            continue
        for r in size(model, demand, slo, batch, executor, costs, objective, on_done=on_done).results:
            done[r.candidate] = r
            if r.feasible and r.cost is not None:
                fewest[r.candidate.gpu] = min(fewest.get(r.candidate.gpu, r.cost.gpus), r.cost.gpus)
    return SizingResult(model, demand, slo, tuple(done[c] for c in candidates if c in done), objective)
