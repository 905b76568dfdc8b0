"""A capacity plan as an HTML fragment (with the planner's report and SVG plots per model) and as JSON.

The fragment has no page around it, no styles and no scripts (classes ``capacity-*`` and the
planner's ``plan-*``); every name from the ledger or the config is escaped. Texts are English; the
JSON carries every number for a face that renders its own (Korean) page.
"""

from __future__ import annotations

from datetime import timedelta
from html import escape
from typing import TYPE_CHECKING, Any

from onshore.domain.demand import HourlyDemand
from onshore.planner.report.disagg import comparison_json
from onshore.planner.report.document import sizing_json
from onshore.planner.report.html import sizing_html, table_html

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from onshore.admin.capacity import CapacityPlan, ModelPlan
    from onshore.admin.capacity_batch import BatchFit
    from onshore.admin.capacity_demand import PeakHour
    from onshore.admin.capacity_tiers import OrgAtPeak

_MIX_COLUMNS = (
    "model",
    "requests",
    "share",
    "prompt tokens (mean)",
    "prompt σ (log)",
    "completion tokens (mean)",
    "completion σ (log)",
    "streamed",
)
_ORG_COLUMNS = (
    "organisation",
    "tier",
    "requests",
    "requests/s",
    "prompt tokens (mean)",
    "completion tokens (mean)",
)
_FLEET_COLUMNS = (
    "served model",
    "planner model",
    "sized at (UTC)",
    "peak requests/s",
    "SLO (p99 TTFT / TPOT ms; set by)",
    "configuration",
    "batch work",
    "GPUs",
    "facility MW",
    "KRW bn/yr",
)


def _hour(plan_hour: Any) -> str:
    return f"{plan_hour:%Y-%m-%d %H:00}–{plan_hour + timedelta(hours=1):%H:00}"


def _mix_row(row: HourlyDemand, total: int) -> tuple[str, ...]:
    return (
        row.model,
        f"{row.requests:,}",
        f"{row.requests / total:.0%}" if total else "-",
        f"{row.prompt_mean:,.0f}",
        f"{row.prompt_log_sigma:.2f}",
        f"{row.completion_mean:,.0f}",
        f"{row.completion_log_sigma:.2f}",
        f"{row.streamed_share:.0%}",
    )


_TARGETS = (("ttft_p99_ms", "TTFT"), ("tpot_p99_ms", "TPOT"))


def _set_by(overridden: Sequence[str], set_by: Mapping[str, str], key: str) -> str | None:
    """Who set a target for this run over every tier ("command line", "scenario file"); None: nobody
    did, the config's tiers apply."""
    return set_by.get(key, "command line") if key in overridden else None


def slo_text(m: ModelPlan) -> str:
    """The SLO a model was sized to and who set it: "1,000 / 40 (priority)", "900 / 40 (command
    line)", or "900 / 40 (TTFT: scenario file; TPOT: priority)" when one target was overridden."""
    if m.slo is None:
        return "-"
    limits = f"{m.slo.ttft_p99_ms:,.0f} / {m.slo.tpot_p99_ms:,.0f}"
    tiers = ", ".join(m.slo_tiers)
    who = [_set_by(m.slo_overridden, m.slo_set_by, key) for key, _ in _TARGETS]
    if len(set(who)) == 1:  # both from the tiers, or both set for the run by the same hand
        return f"{limits} ({who[0] or tiers})"
    by = [f"{name}: {w or tiers}" for (_, name), w in zip(_TARGETS, who, strict=True)]
    return f"{limits} ({'; '.join(by)})"


def slo_source(m: ModelPlan) -> dict[str, str]:
    """Where each target came from: "command line" or "scenario file" (every tier, this run), or
    "config"."""
    return {key: _set_by(m.slo_overridden, m.slo_set_by, key) or "config" for key, _ in _TARGETS}


def sized_at(m: ModelPlan) -> str:
    """When a model was sized for: its busiest hour, or its busiest day of batch work."""
    if m.batch_only:
        return f"{m.peak.hour:%Y-%m-%d} (busiest day of batch work)"
    return _hour(m.peak.hour)


def batch_only_note(m: ModelPlan) -> str:
    """What a model with batch work only was sized for (its "peak" is no interactive peak)."""
    rate = f" ({m.demand.peak_rps:,.2f} requests/s)" if m.demand else ""
    return (
        f"{m.served} had no interactive traffic: its fleet is sized for its busiest day of batch work, "
        f"{m.peak.hour:%Y-%m-%d} ({m.peak.requests:,} requests), spread evenly over 24 hours{rate}, "
        'and checked against each day\'s batch volume; the "peak" below is that average rate.'
    )


def batch_text(m: ModelPlan) -> str:
    if m.batch is not None:
        return m.batch.describe()
    return f"{m.batch_requests:,} requests, not checked" if m.batch_requests else "none"


def org_row(o: OrgAtPeak) -> tuple[str, ...]:
    d = o.demand
    return (
        o.name,
        o.tier.value,
        f"{d.requests:,}",
        f"{o.requests_per_s:,.3f}",
        f"{d.prompt_mean:,.0f}",
        f"{d.completion_mean:,.0f}",
    )


def _fleet_row(m: ModelPlan) -> tuple[str, ...]:
    best = m.best
    cost = m.fleet_cost
    if m.sizing is None:
        configuration = "not sized"
    elif best is None:
        configuration = "none meets the SLOs"
    else:
        configuration = best.candidate.label
    return (
        m.served,
        m.match.planner_model or "-",
        sized_at(m),
        f"{m.demand.peak_rps:,.2f}{' (day average)' if m.batch_only else ''}" if m.demand else "-",
        slo_text(m),
        configuration,
        batch_text(m),
        f"{cost.gpus:,}" if cost else "-",
        f"{cost.facility_power_mw:,.2f}" if cost else "-",
        f"{cost.annual_cost_krw / 1e9:,.2f}" if cost else "-",
    )


def _peak_html(peak: PeakHour, batch_only: bool) -> list[str]:
    heading = (
        "The busiest hour of batch work (there was no interactive traffic, so no hourly peak was "
        "sized for; only the daily batch volume)"
        if batch_only
        else "The busiest hour (interactive traffic; batch work runs in the spare capacity)"
    )
    return [
        f"<h3>{heading}</h3>",
        f'<p class="capacity-peak"><strong>{_hour(peak.start)} UTC</strong>: {peak.requests:,} requests '
        f"({peak.requests_per_s:,.2f}/s), {peak.prompt.total:,} prompt and {peak.completion.total:,} "
        f"completion tokens, {peak.streamed_share:.0%} streamed.</p>",
        table_html(
            _MIX_COLUMNS,
            [_mix_row(r, peak.requests) for r in peak.models],
            "capacity-table capacity-mix",
        ),
    ]


def _pools_html(plan: CapacityPlan) -> str:
    if not plan.options.disaggregated:
        return ""
    return (
        " Disaggregated prefill/decode pools were sized for each model's same demand and SLO; they are "
        "shown beside each model's aggregated answer, and the totals count the aggregated fleets."
    )


def _override_html(plan: CapacityPlan) -> str:
    opts = plan.options
    by_source: dict[str, list[str]] = {}
    for key, name in _TARGETS:
        if (who := _set_by(opts.slo_overridden, opts.slo_set_by, key)) is not None:
            by_source.setdefault(who, []).append(name)
    if not by_source:
        return ""
    said = " and ".join(
        f"the p99 {' and '.join(names)} limit{'s' if len(names) > 1 else ''} came from the {who}"
        for who, names in by_source.items()
    )
    replace = "they replace" if len(opts.slo_overridden) > 1 else "it replaces"
    return (
        f" {said[0].upper()}{said[1:]}; {replace} the configured ones (planner.tier_slos) of every tier "
        "for this plan."
    )


def capacity_html(plan: CapacityPlan) -> str:
    """The plan as one ``<section>``: the peak, the model mix, the fleets, then each model's report."""
    scope = f"organisation {plan.org}" if plan.org is not None else "all organisations"
    parts = [
        '<section class="capacity-plan">',
        f"<h2>Capacity plan from the ledger: {escape(plan.month)}, {escape(scope)}, "
        f"grown by {plan.growth_percent:g} %</h2>",
        f'<p class="capacity-message">{escape(plan.message)}</p>',
    ]
    if plan.peak is None:
        parts.append("</section>")
        return "\n".join(parts)
    parts += _peak_html(plan.peak, plan.batch_only)
    sized_for = (
        "its busiest day of batch work spread over 24 hours, then checked against each day's batch volume"
        if plan.batch_only
        else "that model's own busiest hour of interactive traffic (a model with batch work only: its "
        "busiest day of batch work spread over 24 hours)"
    )
    parts += [
        "<h3>Fleets</h3>",
        f"<p>Each model's fleet is sized for {sized_for}, grown by "
        f"{plan.growth_percent:g} %. In all: <strong>{plan.total_gpus:,} GPUs</strong>, "
        f"{plan.total_facility_mw:,.2f} MW of facility power, "
        f"{plan.total_annual_cost_krw / 1e9:,.2f} bn KRW a year. Search: "
        f"{escape(', '.join(plan.options.gpus))}; {escape(', '.join(plan.options.precisions))}; "
        f"TP {escape(', '.join(map(str, plan.options.tensor_parallel)))}. "
        f"Planned in {plan.elapsed_s:.1f} s.{_override_html(plan)}{_pools_html(plan)}</p>",
        table_html(_FLEET_COLUMNS, [_fleet_row(m) for m in plan.models], "capacity-table capacity-fleets"),
    ]
    if plan.not_sized:
        items = "".join(
            f"<li><strong>{escape(m.served)}</strong> ({m.month_requests:,} requests): "
            f"{escape(m.match.how)}</li>"
            for m in plan.not_sized
        )
        parts.append(f'<p>Not sized:</p><ul class="capacity-not-sized">{items}</ul>')
    for m in plan.sized:
        assert m.sizing is not None  # sized() keeps those only
        title = f"{m.served}: {m.sizing.model}"
        if m.orgs:
            parts += [
                f"<h3>{escape(m.served)}: organisations in its busiest hour, {_hour(m.peak.hour)} UTC</h3>",
                table_html(_ORG_COLUMNS, [org_row(o) for o in m.orgs], "capacity-table capacity-orgs"),
            ]
        if m.batch_only:
            parts.append(f'<p class="capacity-batch-only">{escape(batch_only_note(m))}</p>')
        parts.append(sizing_html(m.sizing, heading_level=3, title=title, pools=m.pools))
    parts.append("</section>")
    return "\n".join(parts)


def _demand_row(row: HourlyDemand) -> dict[str, Any]:
    return {
        "hour": row.hour.isoformat(),
        "model": row.model,
        "requests": row.requests,
        "streamed": row.streamed,
        "prompt_tokens": row.prompt.total,
        "completion_tokens": row.completion.total,
        "prompt_mean": row.prompt_mean,
        "prompt_log_sigma": row.prompt_log_sigma,
        "completion_mean": row.completion_mean,
        "completion_log_sigma": row.completion_log_sigma,
        "largest_prompt": row.prompt.largest,
        "largest_completion": row.completion.largest,
    }


def capacity_json(plan: CapacityPlan) -> dict[str, Any]:
    """Every number of the plan, JSON-ready (the CLI's ``--json``; fields are only ever added)."""
    peak = plan.peak
    return {
        "month": plan.month,
        "period_start": plan.period_start.isoformat(),
        "period_end": plan.period_end.isoformat(),
        "org": plan.org,
        "growth_percent": plan.growth_percent,
        "message": plan.message,
        "requests": plan.requests,
        "batch_requests": plan.batch_requests,
        # targets set for this run over every tier (command line or scenario file: models[].slo_source)
        "slo_overridden": list(plan.options.slo_overridden),
        "batch_only": plan.batch_only,  # no interactive traffic: ``peak`` is the busiest hour of batch work
        "elapsed_s": plan.elapsed_s,
        "peak": None
        if peak is None
        else {
            "hour": peak.start.isoformat(),
            "kind": "batch" if plan.batch_only else "interactive",
            "requests": peak.requests,
            "requests_per_s": peak.requests_per_s,
            "prompt_tokens": peak.prompt.total,
            "completion_tokens": peak.completion.total,
            "streamed_share": peak.streamed_share,
            "models": [_demand_row(r) for r in peak.models],
        },
        "totals": {
            "gpus": plan.total_gpus,
            "facility_power_mw": plan.total_facility_mw,
            "annual_cost_krw": plan.total_annual_cost_krw,
        },
        "models": [
            {
                "served": m.served,
                "planner_model": m.match.planner_model,
                "matched_by": m.match.how,
                "month_requests": m.month_requests,
                "peak": _demand_row(m.peak),
                "sizing": sizing_json(m.sizing) if m.sizing else None,
                "batch_requests": m.batch_requests,
                "batch_only": m.batch_only,
                "orgs_at_peak": [_org_json(o) for o in m.orgs],
                "slo": None
                if m.slo is None
                else {"ttft_p99_ms": m.slo.ttft_p99_ms, "tpot_p99_ms": m.slo.tpot_p99_ms},
                "slo_tiers": list(m.slo_tiers),
                "slo_source": slo_source(m),
                "sized_for": "busiest_day_of_batch_work" if m.batch_only else "busiest_hour",
                "batch": None if m.batch is None else _batch_json(m.batch),
                "fleet": None if m.fleet_cost is None else m.fleet_cost.as_dict(),
                # as ``plan size --disaggregated --json`` prints it; None without --disaggregated
                "disaggregated": None
                if m.pools is None
                else comparison_json(m.best, m.pools, plan.options.objective),
            }
            for m in plan.models
        ],
    }


def _org_json(o: OrgAtPeak) -> dict[str, Any]:
    d = o.demand
    return {
        "org_id": o.org_id,
        "org": o.name,
        "tier": o.tier.value,
        "requests": d.requests,
        "requests_per_s": o.requests_per_s,
        "prompt_mean": d.prompt_mean,
        "prompt_log_sigma": d.prompt_log_sigma,
        "completion_mean": d.completion_mean,
        "completion_log_sigma": d.completion_log_sigma,
    }


def _batch_json(b: BatchFit) -> dict[str, Any]:
    return {
        "day": b.day.isoformat(),
        "batch_tokens": b.batch_tokens,
        "interactive_tokens": b.interactive_tokens,
        "capacity_tokens": b.capacity_tokens,
        "spare_tokens": b.spare_tokens,
        "replica_tokens": b.replica_tokens,
        "extra_replicas": b.extra_replicas,
        "fits": b.fits,
        "summary": b.describe(),
    }
