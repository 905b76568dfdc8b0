"""Usage over time, read from the ledger's hourly rollup (the dashboard's overview, capacity planning).

Every ``UsageReader`` is one (``onshore.ports.store.UsageReader`` extends this protocol), so the faces
reach it as ``services.store.usage``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from onshore.domain.usage_series import Bucket, GroupBy, PeakHour, SeriesPoint


class UsageSeriesReader(Protocol):
    def usage_series(
        self,
        start: datetime,
        end: datetime,
        bucket: Bucket,
        group_by: GroupBy | None = None,
        org_id: str | None = None,
    ) -> list[SeriesPoint]:
        """Sums of the ledger's rows per ``bucket`` of time (UTC) and group, over whole UTC hours.

        Rows count when ``start <= hour(created_at) < end``; ``start`` and ``end`` are meant to be
        whole hours (a partial hour counts whole: the rollup keeps no finer time). ``org_id`` keeps
        one organisation's rows only. Points with no rows are absent. A point's ``group`` is the
        organisation id, model or backend grouped by (None for rows without one, and always None
        when ``group_by`` is None). Ordered by ``start``, then group (None first).

        Exact: every row inserted in the ledger is counted once (retried or replayed batches are
        not inserted twice, and only inserted rows are counted).

        Raises:
            StoreError: the database is unreachable or failed.
        """
        ...

    def peak_hour(self, start: datetime, end: datetime, org_id: str | None = None) -> PeakHour | None:
        """The UTC hour of ``[start, end)`` with the most requests (the earliest of equals), of one
        organisation when ``org_id`` is given; None when there were none.

        Raises:
            StoreError: the database is unreachable or failed.
        """
        ...
