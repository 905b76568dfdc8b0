"""Usage for billing: a month of an organisation's ledger, totalled."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from onshore.admin.prices import krw_number
from onshore.admin.tenancy import require_org
from onshore.domain.limits import micro_to_krw
from onshore.domain.periods import utc_month
from onshore.domain.usage import UsageSummary
from onshore.errors import InvalidRequest
from onshore.ports import TenancyStore, UsageReader

_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})\Z")


def month_bounds(month: str | None, now: datetime | None = None) -> tuple[datetime, datetime]:
    """'2026-11' -> [2026-11-01, 2026-12-01) in UTC; None -> the current month."""
    if month is None:
        moment = now or datetime.now(UTC)
        year, number = moment.year, moment.month
    else:
        match = _MONTH.match(month)
        # Years 1-9998: year 0 has no datetime, and 9999-12 no next month to end it (both a 500).
        if match is None or not 1 <= int(match.group(2)) <= 12 or not 1 <= int(match.group(1)) < 9999:
            raise InvalidRequest(f"invalid month {month!r}: use YYYY-MM, e.g. 2026-11", param="month")
        year, number = int(match.group(1)), int(match.group(2))
    return utc_month(datetime(year, number, 1, tzinfo=UTC))


def usage_for_month(
    tenancy: TenancyStore, reader: UsageReader, org_name: str, month: str | None
) -> UsageSummary:
    org = require_org(tenancy, org_name)
    start, end = month_bounds(month)
    return reader.summary(org.id, start, end)


def summary_to_json(summary: UsageSummary, org_name: str) -> dict[str, object]:
    """The public shape of a usage summary (admin API and ``onshore usage --json``).

    Fields are only ever added, never renamed. ``requests`` counts every request;
    ``billable_requests`` (the sum over ``by_model``) and ``rejected_requests`` (the sum over
    ``rejected``: refused, failed before any token, unknown models) add up to it, and the token
    totals are the sums over ``by_model``.

    Cost: ``cost_krw`` is won as a JSON number (each row at the price in force when it was served;
    rows of a model without a price add nothing), ``cost_micro_krw`` the same as an exact integer.
    """
    return {
        "org": org_name,
        "org_id": summary.org_id,
        "period_start": summary.period_start.isoformat(),
        "period_end": summary.period_end.isoformat(),
        "requests": summary.requests,
        "failed_requests": summary.failed_requests,
        "prompt_tokens": summary.prompt_tokens,
        "completion_tokens": summary.completion_tokens,
        "total_tokens": summary.total_tokens,
        "by_model": [
            {
                "model": m.model,
                "requests": m.requests,
                "prompt_tokens": m.prompt_tokens,
                "completion_tokens": m.completion_tokens,
                "total_tokens": m.total_tokens,
                "cost_krw": krw_number(micro_to_krw(m.cost_micro_krw)),
                "cost_micro_krw": m.cost_micro_krw,
            }
            for m in summary.by_model
        ],
        "billable_requests": summary.billable_requests,
        "rejected_requests": summary.rejected_requests,
        "rejected": [
            {"status": r.status, "error_code": r.error_code, "requests": r.requests} for r in summary.rejected
        ],
        "cost_krw": krw_number(micro_to_krw(summary.cost_micro_krw)),
        "cost_micro_krw": summary.cost_micro_krw,
    }
