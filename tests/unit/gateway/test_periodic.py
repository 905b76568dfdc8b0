"""The polling loop shared by the key and limit syncs, the quota reseed and the backend prober."""

from __future__ import annotations

import asyncio

from onshore.gateway.periodic import Periodic


async def test_it_runs_again_after_a_pass_that_failed_and_stops_when_told() -> None:
    passes: list[int] = []
    went_on = asyncio.Event()

    async def work() -> None:
        passes.append(len(passes))
        if len(passes) == 1:
            raise RuntimeError("one bad pass")
        went_on.set()

    periodic = Periodic("test-loop", 0.001, work)
    periodic.start()
    periodic.start()  # a second start changes nothing
    await asyncio.wait_for(went_on.wait(), 5)
    await periodic.stop()
    done = len(passes)
    await asyncio.sleep(0.01)
    assert done >= 2 and len(passes) == done  # nothing runs after stop
    await periodic.stop()  # stopping twice is harmless
