"""The residency report: where an organisation's requests were served in a month, and the refusals.

Read from the usage ledger in one statement (``UsageReader.residency``), so it matches the ledger
exactly: every row of the organisation in the month counts once, under the backend that served it
and the jurisdiction the ledger recorded for it then (not the backend's jurisdiction today), or as
not routed. Beside it, the organisation's jurisdictions as they stand now, to read it against.
"""

from __future__ import annotations

from typing import Any

from onshore.admin.prices import krw_number
from onshore.admin.tenancy import org_jurisdictions, require_org
from onshore.admin.usage import month_bounds
from onshore.domain.limits import micro_to_krw
from onshore.domain.residency import REFUSAL_CODES, ResidencyReport, ServedUsage
from onshore.ports import PolicyStore, TenancyStore, UsageReader


def residency_for_month(
    tenancy: TenancyStore,
    reader: UsageReader,
    policies: PolicyStore,
    org_name: str,
    month: str | None,
    *,
    home: str,
) -> tuple[ResidencyReport, tuple[str, ...]]:
    """The organisation's report for ``month`` (YYYY-MM, UTC; None: the current one) and the
    jurisdictions its data may be processed in now.

    Raises:
        NotFound: no organisation by that name.
        InvalidRequest: a month that is not YYYY-MM.
    """
    org = require_org(tenancy, org_name)
    start, end = month_bounds(month)
    return reader.residency(org.id, start, end), org_jurisdictions(policies, org.id, home)


def _served_json(row: ServedUsage) -> dict[str, Any]:
    return {
        "requests": row.requests,
        "failed_requests": row.failed_requests,
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "total_tokens": row.total_tokens,
        "cost_krw": krw_number(micro_to_krw(row.cost_micro_krw)),
        "cost_micro_krw": row.cost_micro_krw,
    }


def residency_json(report: ResidencyReport, org_name: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    """The public shape of the report (admin API and ``onshore residency report --json``).

    ``requests`` counts every ledger row of the organisation in the period: the sum over ``served``
    plus ``not_routed_requests``. ``by_jurisdiction`` is ``served`` summed over backends;
    ``jurisdiction`` is null for rows written before the ledger recorded it. ``refusals`` are the
    rows refused by a sovereignty policy (``refusal_codes``), already counted in the totals. Fields
    are only ever added, never renamed.
    """
    return {
        "object": "residency.report",
        "org": org_name,
        "org_id": report.org_id,
        "period_start": report.period_start.isoformat(),
        "period_end": report.period_end.isoformat(),
        "jurisdictions": list(allowed),
        "requests": report.requests,
        "served_requests": report.served_requests,
        "not_routed_requests": report.not_routed_requests,
        "prompt_tokens": report.prompt_tokens,
        "completion_tokens": report.completion_tokens,
        "total_tokens": report.total_tokens,
        "cost_krw": krw_number(micro_to_krw(report.cost_micro_krw)),
        "cost_micro_krw": report.cost_micro_krw,
        "by_jurisdiction": [
            {"jurisdiction": j, **_served_json(row)} for j, row in report.by_jurisdiction().items()
        ],
        "served": [
            {"jurisdiction": row.jurisdiction, "backend": row.backend, **_served_json(row)}
            for row in report.served
        ],
        "refusal_codes": list(REFUSAL_CODES),
        "refusals": [
            {"status": r.status, "error_code": r.error_code, "requests": r.requests} for r in report.refusals
        ],
        "refused_requests": sum(r.requests for r in report.refusals),
    }
