"""The overview's operations over a recount of the rows (``tests/support/usage_series.py``): windows,
buckets, top groups and "other", labels, and use against limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

import pytest

from onshore.admin.org_usage import org_usage, org_usage_to_json, orgs_usage
from onshore.admin.overview import bucket_starts, overview, overview_to_json
from onshore.domain.limits import Limits, Scope
from onshore.domain.tenancy import Organisation
from onshore.domain.usage import UsageRecord
from onshore.errors import InvalidRequest, NotFound
from onshore.ports import LimitsSnapshot, LimitsStore, TenancyStore
from tests.support.usage_series import InMemoryUsageSeries, ledger_record

NOW = datetime(2026, 12, 10, 14, 25, tzinfo=UTC)
ORGS = [Organisation(id=f"o{i}", name=f"org-{i}", created_at=NOW) for i in range(12)]


class Tenancy:
    def list_orgs(self) -> list[Organisation]:
        return list(ORGS)

    def get_org_by_name(self, name: str) -> Organisation | None:
        return next((org for org in ORGS if org.name == name), None)


class LimitBook:
    def get_limits(self, scope: Scope, subject_id: str) -> Limits:
        return Limits(monthly_tokens=1000) if subject_id == "o0" else Limits()

    def limits_snapshot(self) -> LimitsSnapshot:
        return LimitsSnapshot(
            orgs={"o0": Limits(monthly_tokens=1000, monthly_budget_krw=2)}, keys={}, prices=[], version=1
        )


def row(request_id: str, org: str | None, at: datetime, **overrides: object) -> UsageRecord:
    base = {"org_id": org, "key_id": None, "endpoint": "chat", "latency_ms": 100.0, "cost_micro_krw": 250_000}
    return ledger_record(request_id, at, **{**base, **overrides})


def reader() -> InMemoryUsageSeries:
    rows = []
    for i, org in enumerate(ORGS):  # org i has i + 1 requests an hour ago, org-11 the most
        rows += [
            row(f"{org.id}-{n}", org.id, NOW - timedelta(hours=1), latency_ms=10.0 * (n + 1))
            for n in range(i + 1)
        ]
    rows.append(
        row(
            "none",
            None,
            NOW - timedelta(minutes=5),
            status=401,
            prompt_tokens=0,
            completion_tokens=0,
            total_tokens=0,
            cost_micro_krw=None,
        )
    )
    rows.append(row("old", "o0", NOW - timedelta(days=3)))
    return InMemoryUsageSeries(rows)


TENANCY = cast(TenancyStore, Tenancy())


def test_the_last_day_by_hour_grouped_by_organisation_with_the_rest_as_other() -> None:
    view = overview(reader(), TENANCY, period="day", group_by="org", now=NOW, top=3)
    assert view.bucket == "hour"
    assert view.end == datetime(2026, 12, 10, 15, tzinfo=UTC) and view.start == view.end - timedelta(days=1)
    assert len(view.buckets) == 24 and all(len(s.points) == 24 for s in view.series)
    assert [s.label for s in view.series] == ["org-11", "org-10", "org-9", "other"]
    other = view.series[-1]
    assert other.other and other.key is None
    assert other.total.requests == sum(range(1, 10)) + 1  # org-0..org-8, and the row without an organisation
    assert view.total.requests == sum(range(1, 13)) + 1 and view.total.errors == 1
    assert view.series[0].total.cost_krw == 3  # 12 x 0.25 won
    hour = view.buckets.index(datetime(2026, 12, 10, 13, tzinfo=UTC))
    top = view.series[0].points[hour]
    assert (top.requests, top.input_tokens, top.output_tokens) == (12, 120, 60)
    assert top.p50_ms is not None and 45 < top.p50_ms < 90  # exact: 60 ms
    assert view.series[0].points[0].p99_ms is None  # an hour without requests
    as_json = overview_to_json(view)
    assert as_json["bucket"] == "hour" and len(as_json["series"]) == 4  # type: ignore[arg-type]


def test_a_month_by_day_of_one_organisation_ungrouped() -> None:
    view = overview(reader(), TENANCY, period="month", org_name="org-0", now=NOW)
    assert view.bucket == "day" and view.org_id == "o0"
    assert view.start == datetime(2026, 11, 10, tzinfo=UTC)
    assert [s.label for s in view.series] == ["(none)"] and view.total.requests == 2


def test_an_explicit_window_and_month_buckets() -> None:
    view = overview(
        reader(), TENANCY, bucket="month", start=datetime(2026, 10, 15, tzinfo=UTC), end=NOW, now=NOW
    )
    assert view.buckets == (
        datetime(2026, 10, 1, tzinfo=UTC),
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 12, 1, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"period": "decade"},
        {"bucket": "minute"},
        {"group_by": "key"},
        {"top": 0},
        {"period": "year", "bucket": "hour"},
        {"period": "month", "bucket": "hour"},
        {"start": NOW, "end": NOW - timedelta(days=1)},
    ],
)
def test_bad_choices_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidRequest):
        overview(reader(), TENANCY, now=NOW, **kwargs)  # type: ignore[arg-type]


def test_an_unknown_organisation() -> None:
    with pytest.raises(NotFound):
        overview(reader(), TENANCY, org_name="nobody", now=NOW)


def test_bucket_starts_cross_a_year() -> None:
    assert bucket_starts(datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 2, 1, tzinfo=UTC), "month") == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )


def test_use_against_limits() -> None:
    limits = cast(LimitsStore, LimitBook())
    mine = org_usage(reader(), TENANCY, limits, "org-0", now=NOW)
    assert (mine.requests, mine.total_tokens, mine.tokens_used, mine.budget_used) == (2, 30, 0.03, None)
    everyone = orgs_usage(reader(), TENANCY, limits, "2026-12", now=NOW)
    assert [u.org.name for u in everyone][:3] == ["org-0", "org-1", "org-10"]
    first = org_usage_to_json(everyone[0])
    assert first["budget_used"] == 0.25 and first["cost_krw"] == 0.5 and first["monthly_budget_krw"] == 2
