"""Overview: requests, tokens, errors, p50/p99 latency and cost over time, by organisation, model or
backend, as charts (uPlot) with the same figures in tables for keyboards and screen readers."""

from __future__ import annotations

from typing import Any

from onshore.admin.overview import PERIODS, Overview, overview
from onshore.domain.usage_series import BUCKETS, GROUP_BYS
from onshore.web.http import Response
from onshore.web.render import View

METRICS = ("requests", "input_tokens", "output_tokens", "errors", "p50_ms", "p99_ms", "cost_krw")


async def overview_page(view: View) -> Response:
    request, store = view.request, view.services.store
    period = request.query("period") or "day"
    bucket = request.query("bucket") or None
    group = request.query("group", "org")
    org_name = request.query("org") or None
    now = view.services.clock.now()
    orgs = await view.run(store.tenancy.list_orgs)
    data = await view.run(
        lambda: overview(
            store.usage,
            store.tenancy,
            period=period,
            bucket=bucket,
            group_by=group or None,
            org_name=org_name,
            now=now,
        )
    )
    return view.render(
        "overview.html",
        view_data=data,
        chart=_chart_json(data, view.fmt.lang),
        metrics=METRICS,
        periods=list(PERIODS),
        buckets=BUCKETS,
        groups=GROUP_BYS,
        period=period,
        bucket=data.bucket,
        group=group or "",
        org_name=org_name or "",
        orgs=orgs,
    )


def _chart_json(data: Overview, lang: str) -> dict[str, Any]:
    """Columns for uPlot: x in Unix seconds, one array per metric per series."""
    return {
        "locale": "ko-KR" if lang == "ko" else "en-US",
        "buckets": [int(moment.timestamp()) for moment in data.buckets],
        "groups": [
            {
                "name": s.label,
                "series": {
                    "requests": [p.requests for p in s.points],
                    "input_tokens": [p.input_tokens for p in s.points],
                    "output_tokens": [p.output_tokens for p in s.points],
                    "errors": [p.errors for p in s.points],
                    "p50_ms": [p.p50_ms for p in s.points],
                    "p99_ms": [p.p99_ms for p in s.points],
                    "cost_krw": [float(p.cost_krw) for p in s.points],
                },
            }
            for s in data.series
        ],
    }
