"""The billing month, shared by usage, monthly quotas and their reseed from the ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from onshore.domain.periods import utc_month


def test_the_utc_month_of_a_moment_in_any_zone() -> None:
    seoul = timezone(timedelta(hours=9))
    # 2027-01-01 05:00 in Seoul is still December in UTC.
    assert utc_month(datetime(2027, 1, 1, 5, tzinfo=seoul)) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert utc_month(datetime(2026, 2, 28, 23, 59, tzinfo=UTC))[1] == datetime(2026, 3, 1, tzinfo=UTC)
