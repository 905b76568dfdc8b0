"""Billing periods: the calendar month in UTC, the one month that usage, invoices, monthly quotas
and budgets all count in (so a quota and the ledger it is reseeded from can never disagree)."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_month(moment: datetime) -> tuple[datetime, datetime]:
    """[the first of ``moment``'s month 00:00, the first of the next) in UTC."""
    moment = moment.astimezone(UTC)
    start = datetime(moment.year, moment.month, 1, tzinfo=UTC)
    end = datetime(moment.year + (moment.month == 12), moment.month % 12 + 1, 1, tzinfo=UTC)
    return start, end
