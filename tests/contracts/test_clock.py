"""The ``Clock`` contract, run against every implementation."""

from __future__ import annotations

from datetime import UTC

import pytest

from onshore.gateway.clock import SystemClock
from onshore.ports import Clock
from tests.support.fakes import ManualClock


@pytest.fixture(params=["system", "manual"])
def clock(request: pytest.FixtureRequest) -> Clock:
    return SystemClock() if request.param == "system" else ManualClock()


def test_monotonic_never_goes_back(clock: Clock) -> None:
    readings = [clock.monotonic() for _ in range(1000)]
    assert readings == sorted(readings)


def test_now_is_aware_utc(clock: Clock) -> None:
    now = clock.now()
    assert now.tzinfo is not None and now.utcoffset() == UTC.utcoffset(now)


def test_the_manual_clock_moves_both_readings_together() -> None:
    clock = ManualClock()
    mono, wall = clock.monotonic(), clock.now()
    clock.advance(2.5)
    assert clock.monotonic() - mono == 2.5 and (clock.now() - wall).total_seconds() == 2.5
