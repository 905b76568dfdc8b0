"""Each organisation's use of a month against its monthly limits (the dashboard's organisations page).

Usage comes from the ledger's hourly rollup (one query for every organisation at once), limits from
the limits store; the month is the UTC month that quotas, budgets and invoices count in
(``admin/usage.month_bounds``). Tokens are billable tokens (rows that are not billable carry none),
as the monthly token quota counts them; cost is in won, as the monthly budget counts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from onshore.admin.prices import krw_number
from onshore.admin.tenancy import require_org
from onshore.admin.usage import month_bounds
from onshore.domain.limits import NO_LIMITS, Limits, Scope, micro_to_krw
from onshore.domain.tenancy import Organisation
from onshore.domain.usage_series import SeriesPoint, sum_points
from onshore.ports import LimitsStore, TenancyStore, UsageSeriesReader


@dataclass(frozen=True, slots=True)
class OrgUsage:
    """An organisation's month: what it used, and its own limits (``limits``; NO_LIMITS when none)."""

    org: Organisation
    start: datetime
    end: datetime
    requests: int
    errors: int
    total_tokens: int
    cost_micro_krw: int
    limits: Limits

    @property
    def cost_krw(self) -> Decimal:
        return micro_to_krw(self.cost_micro_krw)

    @property
    def tokens_used(self) -> float | None:
        """The share of ``monthly_tokens`` used (1.0 = all of it); None without that limit."""
        quota = self.limits.monthly_tokens
        return None if not quota else self.total_tokens / quota

    @property
    def budget_used(self) -> float | None:
        """The share of ``monthly_budget_krw`` spent; None without that limit."""
        budget = self.limits.monthly_budget_krw
        return None if not budget else float(self.cost_krw / budget)


def org_usage(
    reader: UsageSeriesReader,
    tenancy: TenancyStore,
    limits: LimitsStore,
    org_name: str,
    month: str | None = None,
    *,
    now: datetime,
) -> OrgUsage:
    """One organisation's use of ``month`` (``YYYY-MM``; None: ``now``'s month) against its limits.

    Raises:
        NotFound: no organisation named ``org_name``.
        InvalidRequest: ``month`` is not ``YYYY-MM``.
        StoreError: the database failed.
    """
    org = require_org(tenancy, org_name)
    start, end = month_bounds(month, now)
    points = reader.usage_series(start, end, "month", None, org.id)
    return _usage(org, start, end, points, limits.get_limits(Scope.ORG, org.id))


def orgs_usage(
    reader: UsageSeriesReader,
    tenancy: TenancyStore,
    limits: LimitsStore,
    month: str | None = None,
    *,
    now: datetime,
) -> list[OrgUsage]:
    """Every organisation's use of ``month`` against its limits, by name (those with no use too).

    Raises:
        InvalidRequest: ``month`` is not ``YYYY-MM``.
        StoreError: the database failed.
    """
    start, end = month_bounds(month, now)
    points: dict[str | None, list[SeriesPoint]] = {}
    for point in reader.usage_series(start, end, "month", "org"):
        points.setdefault(point.group, []).append(point)
    book = limits.limits_snapshot().orgs
    return [
        _usage(org, start, end, points.get(org.id, []), book.get(org.id, NO_LIMITS))
        for org in sorted(tenancy.list_orgs(), key=lambda org: org.name)
    ]


def _usage(
    org: Organisation, start: datetime, end: datetime, points: list[SeriesPoint], own: Limits
) -> OrgUsage:
    total = sum_points(points, start, org.id)
    return OrgUsage(
        org=org,
        start=start,
        end=end,
        requests=total.requests,
        errors=total.errors,
        total_tokens=total.total_tokens,
        cost_micro_krw=total.cost_micro_krw,
        limits=own,
    )


def org_usage_to_json(usage: OrgUsage) -> dict[str, object]:
    """The public shape (fields only ever added): counts, ``cost_krw`` in won, the organisation's
    ``monthly_tokens`` and ``monthly_budget_krw`` (null: no limit) and the shares used."""
    return {
        "org": usage.org.name,
        "org_id": usage.org.id,
        "period_start": usage.start.isoformat(),
        "period_end": usage.end.isoformat(),
        "requests": usage.requests,
        "errors": usage.errors,
        "total_tokens": usage.total_tokens,
        "cost_krw": krw_number(usage.cost_krw),
        "monthly_tokens": usage.limits.monthly_tokens,
        "monthly_budget_krw": usage.limits.monthly_budget_krw,
        "tokens_used": usage.tokens_used,
        "budget_used": usage.budget_used,
    }
