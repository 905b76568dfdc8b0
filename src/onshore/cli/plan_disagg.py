"""``plan size --disaggregated``: size separate prefill and decode pools beside the aggregated fleet.

Kept apart from ``plan.py`` (one command per screen). The aggregated search runs as always; with
the flag, every GPU × precision × prefill TP × decode TP of the same lists is sized as two pools
(:mod:`onshore.planner.disagg_sizing`) through the same executor, and the best of each is reported
side by side with the gain (how many times more of the objective the aggregated fleet needs); the
verdict's JSON, lines and report sections are ``onshore.planner.report.disagg``'s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from onshore.planner.cost import CostInputs
    from onshore.planner.demand import Demand
    from onshore.planner.disagg_sizing import DisaggResult
    from onshore.planner.ports import Executor
    from onshore.planner.sizing import Slo

F = TypeVar("F", bound=Callable[..., Any])


def disagg_option(f: F) -> F:
    """Add ``--disaggregated`` to a command."""
    return click.option(
        "--disaggregated",
        is_flag=True,
        help="Also size separate prefill and decode pools (every --tp for each pool) and compare the "
        "best with the best aggregated fleet (with --from-ledger: per model, at its peak and SLO).",
    )(f)


def size_pools(
    model: str,
    demand: Demand,
    slo: Slo,
    opts: dict[str, Any],
    executor: Executor,
    costs: CostInputs,
    parse: Callable[[type, str], list[Any]],
) -> list[DisaggResult]:
    """Every disaggregated candidate of the command's GPU, TP and precision lists, best first."""
    from onshore.planner.disagg_sizing import default_disagg_candidates, size_disagg  # noqa: PLC0415

    tps = parse(int, str(opts["tp"]))
    seqs = [s for s in parse(int, str(opts["max_num_seqs"])) if s > 0] or [256]
    candidates = default_disagg_candidates(
        parse(str, str(opts["gpus"])), tps, tps, parse(str, str(opts["precision"])), seqs, str(opts["engine"])
    )
    return size_disagg(model, demand, slo, candidates, executor, costs, str(opts["objective"]))
