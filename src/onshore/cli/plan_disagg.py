"""``plan size --disaggregated``: size separate prefill and decode pools beside the aggregated fleet.

Kept apart from ``plan.py`` (one command per screen). The aggregated search runs as always; with
the flag, every GPU × precision × prefill TP × decode TP of the same lists is sized as two pools
(:mod:`onshore.planner.disagg_sizing`) through the same executor, and the best of each is reported
side by side with the gain (how many times more of the objective the aggregated fleet needs).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from onshore.planner.cost import CostInputs
    from onshore.planner.demand import Demand
    from onshore.planner.disagg_sizing import DisaggResult
    from onshore.planner.ports import Executor
    from onshore.planner.sizing import CandidateResult, Slo

F = TypeVar("F", bound=Callable[..., Any])


def disagg_option(f: F) -> F:
    """Add ``--disaggregated`` to a command."""
    return click.option(
        "--disaggregated",
        is_flag=True,
        help="Also size separate prefill and decode pools (every --tp for each pool) and compare the "
        "best with the best aggregated fleet.",
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


def _objective(cost: Any, objective: str) -> float:
    from onshore.planner.sizing import OBJECTIVES  # noqa: PLC0415

    return float(OBJECTIVES[objective](cost)) if cost is not None else math.nan


def comparison_json(
    aggregated: CandidateResult | None, pools: Sequence[DisaggResult], objective: str
) -> dict[str, Any]:
    """The best disaggregated fleet, its gain over the best aggregated one, and every candidate."""
    best = pools[0] if pools and pools[0].feasible else None
    gain = math.nan
    if best is not None and aggregated is not None and aggregated.cost is not None:
        gain = _objective(aggregated.cost, objective) / _objective(best.cost, objective)
    return {
        "best": _pool_json(best) if best else None,
        "gain_over_aggregated": None if math.isnan(gain) else round(gain, 4),
        "candidates": [_pool_json(r) for r in pools],
    }


def _pool_json(r: DisaggResult) -> dict[str, Any]:
    c, layout = r.candidate, r.layout
    return {
        "label": c.label,
        "gpu": c.gpu,
        "precision": c.precision,
        "prefill_tp": c.prefill_tp,
        "decode_tp": c.decode_tp,
        "decode_max_num_seqs": c.decode_seqs,
        "feasible": r.feasible,
        "reason": r.reason,
        "prefill_replicas": layout.prefill_replicas if layout else None,
        "decode_replicas": layout.decode_replicas if layout else None,
        "prefill_rate_per_replica": r.prefill_rate,
        "decode_rate_per_replica": r.decode_rate,
        "kv_transfer_p99_ms": r.transfer_p99_ms,
        "at_peak": r.at_peak,
        "cost": r.cost.as_dict() if r.cost else None,
    }


def comparison_lines(
    aggregated: CandidateResult | None, pools: Sequence[DisaggResult], objective: str
) -> list[str]:
    """What the terminal shows under the aggregated table."""
    data = comparison_json(aggregated, pools, objective)
    best = data["best"]
    if best is None:
        return ["disaggregated: no prefill/decode layout meets the SLOs"]
    cost = best["cost"] or {}
    line = (
        f"disaggregated best: {best['label']}: {best['prefill_replicas']} prefill + "
        f"{best['decode_replicas']} decode replicas, {cost.get('gpus', '?')} GPUs, "
        f"KV transfer p99 {best['kv_transfer_p99_ms']:.1f} ms"
    )
    gain = data["gain_over_aggregated"]
    verdict = (
        "no aggregated fleet to compare" if gain is None else f"aggregated needs {gain:.2f}x the {objective}"
    )
    return [line, f"  {verdict}"]
