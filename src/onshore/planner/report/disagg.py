"""Disaggregated prefill/decode pools beside the aggregated answer, in every output form.

``comparison_json`` is the public JSON of ``plan size --disaggregated`` (``disaggregated``: fields
are only ever added); the terminal lines, the Markdown section of ``report.md`` and the HTML
section of the console's fragment are all read from it, so the forms cannot disagree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from onshore.planner.sizing import OBJECTIVES, CandidateResult

if TYPE_CHECKING:
    from onshore.planner.disagg_sizing import DisaggResult

POOL_COLUMNS = (
    "configuration",
    "feasible",
    "prefill replicas",
    "decode replicas",
    "GPUs",
    "KRW bn/yr",
    "note",
)


def _objective(cost: Any, objective: str) -> float:
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
    """The verdict in two lines: the best pair of pools, and how it compares with the aggregated fleet."""
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


def pool_rows(pools: Sequence[DisaggResult]) -> list[tuple[str, ...]]:
    """Every disaggregated candidate (``POOL_COLUMNS``), best first."""
    rows: list[tuple[str, ...]] = []
    for r in pools:
        layout, cost = r.layout, r.cost
        rows.append(
            (
                r.candidate.label,
                "yes" if r.feasible else "no",
                f"{layout.prefill_replicas:,} x TP{layout.prefill_tp}" if layout else "-",
                f"{layout.decode_replicas:,} x TP{layout.decode_tp}" if layout else "-",
                f"{cost.gpus:,}" if cost else "-",
                f"{cost.annual_cost_krw / 1e9:,.2f}" if cost else "-",
                r.reason or (f"KV transfer p99 {r.transfer_p99_ms:.1f} ms" if r.feasible else ""),
            )
        )
    return rows


SECTION = "Disaggregated prefill/decode"
WHAT = (
    "Separate prefill and decode pools sized for the same peak demand and SLOs as the aggregated "
    "fleet above (each pool by bisection on what one replica sustains, KV moved between them)."
)


def comparison_markdown(
    aggregated: CandidateResult | None, pools: Sequence[DisaggResult], objective: str
) -> list[str]:
    """The section of ``report.md``: the verdict, then every pair of pools tried."""
    return [
        f"## {SECTION}",
        "",
        WHAT,
        "",
        *(line.strip() + "  " for line in comparison_lines(aggregated, pools, objective)),
        "",
        "| " + " | ".join(POOL_COLUMNS) + " |",
        "|" + "---|" * len(POOL_COLUMNS),
        *("| " + " | ".join(row) + " |" for row in pool_rows(pools)),
        "",
    ]
