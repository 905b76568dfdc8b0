"""The sizing report as an HTML fragment with its SVG plots inline (the operator's console embeds it).

A fragment, not a page: no ``<html>``, no styles and no scripts, so the page around it decides the
look (classes ``plan-*`` to hook on). Every text from outside the planner is escaped; the SVGs
escape their own labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

from onshore.planner.report.disagg import POOL_COLUMNS, SECTION, WHAT, comparison_lines, pool_rows
from onshore.planner.report.document import (
    CONFIGURATION_COLUMNS,
    charts,
    configuration_rows,
    recommended_rows,
)
from onshore.planner.sizing import CandidateResult, SizingResult

if TYPE_CHECKING:
    from onshore.planner.disagg_sizing import DisaggResult

_CHART_TITLES = {
    "latency_vs_load.svg": "p99 TPOT against load",
    "cost_vs_slo.svg": "Cheapest fleet against the TPOT target",
    "fleet.svg": "Fleet size of the top configurations",
}


def table_html(headers: Sequence[str], rows: Sequence[Sequence[str]], css: str = "plan-table") -> str:
    """A plain ``<table>`` with a header row; every cell escaped."""
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{escape(css)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def sizing_html(
    result: SizingResult,
    heading_level: int = 3,
    title: str | None = None,
    pools: Sequence[DisaggResult] | None = None,
) -> str:
    """The report of one sizing run: demand, recommended fleet, plots, every configuration tried,
    and with ``pools`` (``disagg_sizing.size_disagg`` for the same demand) the disaggregated verdict."""
    h = max(1, min(heading_level, 5))
    d = result.demand
    best = result.best
    parts = [
        '<section class="plan-sizing">',
        f"<h{h}>{escape(title or f'Capacity plan: {result.model}')}</h{h}>",
        f"<p>Peak demand: <strong>{d.peak_rps:,.2f} requests/s</strong> "
        f"({d.peak_input_tokens_per_s:,.0f} input and {d.peak_output_tokens_per_s:,.0f} output tokens/s); "
        f"{d.daily_requests:,.0f} requests a day. SLOs at the peak: p99 TTFT &le; "
        f"{result.slo.ttft_p99_ms:g} ms, p99 TPOT &le; {result.slo.tpot_p99_ms:g} ms.</p>",
    ]
    if best is not None and best.cost is not None:
        parts += [
            f"<h{h + 1}>Recommended: {escape(best.label)}</h{h + 1}>",
            table_html(("quantity", "value"), recommended_rows(best), "plan-table plan-recommended"),
        ]
    else:
        parts.append('<p class="plan-none">No configuration met the SLOs: relax them or add GPU types.</p>')
    parts.append(f'<div class="plan-charts">{"".join(_figures(result))}</div>')
    parts += [
        f"<h{h + 1}>All configurations</h{h + 1}>",
        table_html(CONFIGURATION_COLUMNS, configuration_rows(result), "plan-table plan-configurations"),
    ]
    if pools is not None:
        parts.append(comparison_html(best, pools, result.objective, h + 1))
    parts.append("</section>")
    return "\n".join(parts)


def comparison_html(
    aggregated: CandidateResult | None,
    pools: Sequence[DisaggResult],
    objective: str,
    heading_level: int = 4,
) -> str:
    """The disaggregated pools beside the aggregated answer (``report.disagg``), classes ``plan-disagg``."""
    h = max(1, min(heading_level, 6))
    verdict = "<br>".join(escape(line.strip()) for line in comparison_lines(aggregated, pools, objective))
    return "\n".join(
        [
            '<section class="plan-disagg">',
            f"<h{h}>{SECTION}</h{h}>",
            f"<p>{escape(WHAT)}</p>",
            f'<p class="plan-disagg-verdict">{verdict}</p>',
            table_html(POOL_COLUMNS, pool_rows(pools), "plan-table plan-disagg-pools"),
            "</section>",
        ]
    )


def _figures(result: SizingResult) -> list[str]:
    return [
        f'<figure class="plan-chart">{svg}<figcaption>{escape(_CHART_TITLES.get(name, name))}'
        "</figcaption></figure>"
        for name, svg in charts(result).items()
    ]
