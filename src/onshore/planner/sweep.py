"""Running a sizing sweep: most promising candidates first, skipping those that cannot rank.

Every candidate has a floor, a value of the objective that its evaluation can never go below
(``sizing.fleet_floor``). The sweep evaluates candidates in order of that floor, in rounds as wide
as the executor's parallelism, and before each round drops every candidate whose floor is already
above the ``keep``-th best value found: it can not enter the top ``keep``, so the top ``keep`` (and
the winner) are exactly those of the exhaustive sweep. Dropped candidates come back as results made
by ``skipped`` (the caller says "not simulated" and why).

Measured on the Korea example of docs/planner.md (Llama-3.1-70B, 32 configurations, ``keep`` 5,
serial, ``taskset -c 0``): 11 of the 32 configurations are simulated, each with the same numbers as
in the exhaustive search; with the simulator's column windowing the whole ``plan size`` went from
27.0 / 27.6 s CPU (88 / 87 s wall) to 8.5 / 8.3 s CPU (25 / 23 s wall), runs alternated back to back
on the shared 2-core machine at load 9-13. After the SLO search and batch tuning made each
configuration dearer, the decode-only floor let 23 of 32 through (58.7 s); the long-run floor of
``planner.throughput_bound`` lets 5 through (docs/planner.md, Performance, has the timings).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from onshore.planner.ports import Executor

J = TypeVar("J")
R = TypeVar("R")


def parallelism(executor: Executor, default: int) -> int:
    """How many jobs ``executor`` runs at once (its ``parallelism`` attribute if it has one)."""
    value = getattr(executor, "parallelism", None)
    return max(1, int(value)) if isinstance(value, int) else max(1, default)


def run(
    jobs: Sequence[J],
    executor: Executor,
    evaluate: Callable[[J], R],
    floor: Callable[[J], float],
    score: Callable[[R], float | None],
    skipped: Callable[[J, float, float], R],
    keep: int | None,
    on_submit: Callable[[J], None] | None = None,
) -> Iterator[tuple[int, R]]:
    """``(index, result)`` for every job, evaluated or skipped, as they are decided.

    ``floor(job)`` must not exceed ``score(evaluate(job))``; ``score`` is None for a result that
    does not rank (infeasible). ``skipped(job, floor, bar)`` builds the result of a job not
    evaluated because its floor is above ``bar``. ``keep`` None evaluates every job in one round.
    """
    submitted: Callable[[J], None] = on_submit or (lambda _job: None)
    if keep is None or keep < 1:
        for job in jobs:
            submitted(job)
        yield from executor.map_unordered(evaluate, jobs)
        return
    floors = [floor(j) for j in jobs]
    todo = sorted(range(len(jobs)), key=lambda i: (floors[i], i))
    width = parallelism(executor, len(jobs))
    best: list[float] = []  # the scores found so far, lowest first, at most ``keep`` of them
    first = True
    while todo:
        bar = best[-1] if len(best) >= keep else math.inf
        for i in [i for i in todo if floors[i] > bar]:
            yield i, skipped(jobs[i], floors[i], bar)
        todo = [i for i in todo if floors[i] <= bar]
        # the first round fills the top ``keep`` at once, so that pruning can start after it
        batch, todo = (
            (todo[: max(width, keep)], todo[max(width, keep) :]) if first else (todo[:width], todo[width:])
        )
        first = False
        for i in batch:
            submitted(jobs[i])
        for k, res in executor.map_unordered(evaluate, [jobs[i] for i in batch]):
            value = score(res)
            if value is not None:
                best = sorted([*best, value])[:keep]
            yield batch[k], res
