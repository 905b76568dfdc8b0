"""The sizing report: Markdown with SVG plots, and a JSON of every number behind it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onshore.planner.report.disagg import comparison_json, comparison_markdown
from onshore.planner.report.svg import bar_chart, line_chart
from onshore.planner.sizing import CandidateResult, SizingResult

if TYPE_CHECKING:
    from onshore.planner.disagg_sizing import DisaggResult


def _candidate(r: CandidateResult) -> dict[str, Any]:
    return {
        "configuration": asdict(r.candidate),
        "max_num_seqs": r.max_num_seqs,  # the max batch used (the configuration's 0: tuned)
        "feasible": r.feasible,
        "reason": r.reason,
        "rate_per_replica": r.rate_per_replica,
        "replicas": r.replicas,
        "at_peak": r.at_peak,
        "latency_curve": [{"rate_per_replica": a, "ttft_p99_ms": b, "tpot_p99_ms": c} for a, b, c in r.curve],
        "cost": r.cost.as_dict() if r.cost else None,
    }


def sizing_json(result: SizingResult, assumptions: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every number of a sizing run, as JSON-ready data."""
    d = result.demand
    best = result.best
    return {
        "model": result.model,
        "objective": result.objective,
        "slo": asdict(result.slo),
        "demand": {
            "daily_requests": d.daily_requests,
            "average_rps": d.average_rps,
            "peak_rps": d.peak_rps,
            "peak_input_tokens_per_s": d.peak_input_tokens_per_s,
            "peak_output_tokens_per_s": d.peak_output_tokens_per_s,
            "prompt": asdict(d.prompt),
            "output": asdict(d.output),
        },
        "assumptions": assumptions or {},
        "best": _candidate(best) if best else None,
        "candidates": [_candidate(r) for r in result.results],
    }


def _cost_vs_slo(result: SizingResult) -> list[tuple[float, float]]:
    """Cheapest annual cost (KRW bn) if the TPOT SLO were each multiple of the target.

    Uses the latency curves already simulated during the search (no new simulations): at each
    SLO, a candidate's capacity is its highest probed rate whose p99s meet it.
    """
    out = []
    for mult in (0.5, 0.75, 1.0, 1.5, 2.0, 3.0):
        tpot = result.slo.tpot_p99_ms * mult
        costs = []
        for r in result.feasible:
            ok = [a for a, ttft, tp in r.curve if tp <= tpot and ttft <= result.slo.ttft_p99_ms]
            if ok and r.cost:
                scale = r.rate_per_replica / max(ok)
                costs.append(r.cost.annual_cost_krw * scale / 1e9)
        if costs:
            out.append((tpot, min(costs)))
    return out


def recommended_rows(best: CandidateResult) -> list[tuple[str, str]]:
    """(quantity, value) of the recommended fleet, formatted for a report."""
    c = best.cost
    if c is None:
        return []
    return [
        ("replicas", f"{best.replicas:,}"),
        ("GPUs", f"{c.gpus:,}"),
        ("nodes", f"{c.nodes:,}"),
        ("racks", f"{c.racks:,}"),
        ("IT power", f"{c.it_power_mw:,.2f} MW"),
        ("facility power (PUE)", f"{c.facility_power_mw:,.2f} MW"),
        ("energy", f"{c.annual_mwh:,.0f} MWh/yr"),
        ("energy cost", f"{c.annual_energy_krw / 1e9:,.2f} bn KRW/yr"),
        ("HBM", f"{c.hbm_stacks:,} stacks, {c.hbm_gb:,.0f} GB"),
        ("IT capex", f"{c.capex_it_krw / 1e9:,.1f} bn KRW"),
        ("facility capex", f"{c.capex_facility_krw / 1e9:,.1f} bn KRW"),
        ("opex", f"{c.annual_opex_krw / 1e9:,.2f} bn KRW/yr"),
        ("total cost", f"{c.annual_cost_krw / 1e9:,.2f} bn KRW/yr"),
        ("cost per million tokens", f"{c.krw_per_million_tokens:,.0f} KRW"),
        (
            "simulated p99 TTFT / TPOT at peak",
            f"{best.at_peak.get('ttft_p99_ms', 0):.0f} ms / {best.at_peak.get('tpot_p99_ms', 0):.1f} ms",
        ),
    ]


CONFIGURATION_COLUMNS = ("configuration", "feasible", "req/s/replica", "GPUs", "KRW bn/yr", "note")


def configuration_rows(result: SizingResult) -> list[tuple[str, ...]]:
    """Every configuration tried (``CONFIGURATION_COLUMNS``), feasible ones first, cheapest first."""
    rows: list[tuple[str, ...]] = []
    for r in sorted(result.results, key=lambda r: (not r.feasible, r.cost.annual_cost_krw if r.cost else 0)):
        gpus = f"{r.cost.gpus:,}" if r.cost else "-"
        krw = f"{r.cost.annual_cost_krw / 1e9:,.1f}" if r.cost else "-"
        rows.append(
            (
                r.label,
                "yes" if r.feasible else "no",
                f"{r.rate_per_replica:.2f}",
                gpus,
                krw,
                r.reason,
            )
        )
    return rows


def charts(result: SizingResult) -> dict[str, str]:
    """The report's three SVG plots by file name (``write_report`` writes them, ``sizing_html``
    embeds them)."""
    top = result.feasible[:5]
    return {
        "latency_vs_load.svg": line_chart(
            "p99 TPOT against load per replica (top configurations)",
            "requests/s per replica",
            "p99 TPOT ms",
            [(r.label, [(a, c) for a, _, c in r.curve]) for r in top],
            hlines=[("TPOT SLO", result.slo.tpot_p99_ms)],
            log_y=True,
        ),
        "cost_vs_slo.svg": line_chart(
            "Cheapest fleet against the p99 TPOT target",
            "p99 TPOT target ms",
            "KRW bn per year",
            [("annual cost", _cost_vs_slo(result))],
        ),
        "fleet.svg": bar_chart(
            "Fleet size of the top configurations",
            "GPUs",
            [(r.label, float(r.cost.gpus if r.cost else 0)) for r in top],
        ),
    }


def write_report(
    result: SizingResult,
    out_dir: Path,
    assumptions: dict[str, Any] | None = None,
    note: str | None = None,
    pools: Sequence[DisaggResult] | None = None,
) -> Path:
    """Write ``report.md``, its SVG plots and ``report.json`` into ``out_dir``; return the Markdown path.

    ``note``: a paragraph under the demand, for what the caller knows of it (e.g. that its "peak" is
    a day's average rate of batch work). ``pools``: the disaggregated candidates sized for the same
    demand (``disagg_sizing.size_disagg``), reported beside the aggregated answer and in the JSON
    as ``disaggregated`` (as ``plan size --disaggregated --json`` prints it).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    data = sizing_json(result, assumptions)
    if pools is not None:
        data["disaggregated"] = comparison_json(result.best, pools, result.objective)
    (out_dir / "report.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    best = result.best
    for name, svg in charts(result).items():
        (out_dir / name).write_text(svg, encoding="utf-8")
    d = result.demand
    lines = [
        f"# Capacity plan: {result.model}",
        "",
        f"Peak demand: **{d.peak_rps:,.1f} requests/s** ({d.peak_input_tokens_per_s:,.0f} input and "
        f"{d.peak_output_tokens_per_s:,.0f} output tokens/s); {d.daily_requests:,.0f} requests a day.",
        f"SLOs at the peak: p99 TTFT <= {result.slo.ttft_p99_ms:g} ms, "
        f"p99 TPOT <= {result.slo.tpot_p99_ms:g} ms.",
        "",
        *([note, ""] if note else []),
    ]
    if best and best.cost:
        lines += [
            f"## Recommended: {best.label}",
            "",
            "| quantity | value |",
            "|---|---|",
            *(f"| {name} | {value} |" for name, value in recommended_rows(best)),
            "",
        ]
    else:
        lines += ["No configuration met the SLOs.", ""]
    lines += [
        "## Plots",
        "",
        "![latency](latency_vs_load.svg)",
        "",
        "![cost](cost_vs_slo.svg)",
        "",
        "![fleet](fleet.svg)",
        "",
        "## All configurations",
        "",
        "| configuration | feasible | req/s/replica | GPUs | KRW bn/yr | note |",
        "|---|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in configuration_rows(result)]
    lines += ["", *(comparison_markdown(result.best, pools, result.objective) if pools is not None else [])]
    lines += [
        "Every number is in `report.json`; metric definitions follow `vllm bench serve` "
        "(TPOT excludes the first token).",
    ]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
