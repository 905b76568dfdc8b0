"""The real clock behind the ``Clock`` port (tests use a manual one that they move by hand)."""

from __future__ import annotations

import time
from datetime import UTC, datetime


class SystemClock:
    """``time.perf_counter`` for durations, ``datetime.now(UTC)`` for timestamps."""

    __slots__ = ()

    def monotonic(self) -> float:
        return time.perf_counter()

    def now(self) -> datetime:
        return datetime.now(UTC)
