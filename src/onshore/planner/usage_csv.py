"""A :class:`~onshore.planner.ports.UsageReader` over a CSV export of the usage ledger.

Columns: ``time`` (UNIX seconds or ISO 8601), ``prompt_tokens``, ``completion_tokens``. The
gateway's store implements the same protocol directly; this one serves files and tests.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from onshore.planner.errors import PlannerError
from onshore.planner.ports import UsageRecord


def _seconds(cell: str) -> float:
    try:
        return float(cell)
    except ValueError:
        return datetime.fromisoformat(cell.replace("Z", "+00:00")).timestamp()


class CsvUsageReader:
    """Reads usage rows from ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def usage_records(
        self, start: datetime | None = None, end: datetime | None = None
    ) -> Iterator[UsageRecord]:
        lo = start.timestamp() if start else float("-inf")
        hi = end.timestamp() if end else float("inf")
        try:
            with self.path.open(newline="", encoding="utf-8") as fh:
                for i, row in enumerate(csv.DictReader(fh), 2):
                    try:
                        rec = UsageRecord(
                            _seconds(row["time"]), int(row["prompt_tokens"]), int(row["completion_tokens"])
                        )
                    except (KeyError, ValueError) as exc:
                        raise PlannerError(f"{self.path}:{i}: bad usage row ({exc})") from exc
                    if lo <= rec.time < hi:
                        yield rec
        except OSError as exc:
            raise PlannerError(f"cannot read {self.path}: {exc.strerror}") from exc
