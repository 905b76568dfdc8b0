from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

import pytest

from onshore.admin.tenancy import create_org, parse_duration
from onshore.admin.usage import month_bounds
from onshore.errors import InvalidRequest
from onshore.ports import TenancyStore


@pytest.mark.parametrize(
    ("text", "seconds"), [("30d", 30 * 86400), ("12h", 43200), ("90m", 5400), ("2w", 1209600), ("1s", 1)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "30", "d", "0d", "-1d", "3y", "1.5d"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(InvalidRequest):
        parse_duration(text)


@pytest.mark.parametrize("name", ["acme\n", "", " acme", "a" * 101])
def test_bad_org_names_are_refused_before_the_store(name: str) -> None:
    """``$`` let a trailing newline through: "acme\n" was an organisation of its own."""
    with pytest.raises(InvalidRequest):
        create_org(cast(TenancyStore, None), name)


def test_month_bounds() -> None:
    assert month_bounds("2026-12") == (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert month_bounds(None, now=datetime(2026, 2, 10, tzinfo=UTC))[0] == datetime(2026, 2, 1, tzinfo=UTC)
    for bad in ("2026-13", "2026-1", "nov", "0000-01", "9999-12", "2026-11\n"):
        with pytest.raises(InvalidRequest):
            month_bounds(bad)


def test_durations_are_bounded() -> None:
    # Issue 13 item 9: '99999999d' overflowed the date (a 500 from the admin API).
    assert parse_duration("3650d") == timedelta(days=3650)
    for text in ("3651d", "99999999d", "522w", "9" * 5000 + "s"):
        with pytest.raises(InvalidRequest) as caught:
            parse_duration(text)
        assert caught.value.param == "expires_in" and len(caught.value.message) < 200
