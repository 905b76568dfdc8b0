"""Random arrivals, releases and cancellations (including a cancel in the very step a place is granted)
never let the fair queue exceed a model's capacity (or batch requests their share of it), lose count of
who waits, idle a place while someone waits, reorder one organisation's requests, or leak a place.
Organisation "z" sends a batch's requests (the background lane)."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from onshore.domain.limits import Tier
from onshore.gateway.fair_queue import FairQueue
from tests.support.fakes import ManualClock

MODEL = "m"
ORGS = ("a", "b", "c", "z")
TIERS = {"a": Tier.PRIORITY, "b": Tier.STANDARD, "c": Tier.BATCH, "z": Tier.BATCH}
BACKGROUND = "z"

_arrive = st.tuples(st.just("arrive"), st.sampled_from(ORGS), st.integers(0, 2000), st.integers(0, 500))
# Release the i-th holder. When j is set, the holder cancels the j-th waiter in the same step as it
# hands its place on: just before (the waiter must be skipped) or just after (the cancel-versus-grant
# race: the place granted to a task that will never run must go to the next one).
_victim = st.one_of(st.none(), st.tuples(st.integers(0, 50), st.booleans()))
_release = st.tuples(st.just("release"), st.integers(0, 50), _victim)
_cancel = st.tuples(st.just("cancel"), st.integers(0, 50))
_ops = st.lists(st.one_of(_arrive, _arrive, _release, _release, _cancel), max_size=80)


@dataclass(eq=False)
class Req:
    seq: int
    org: str
    cost: int
    actual: int
    state: str = "new"  # new, waiting, holding, done, cancelled
    task: asyncio.Task[None] | None = None
    release: asyncio.Future[tuple[int, bool] | None] | None = None


async def _settle() -> None:
    for _ in range(8):
        await asyncio.sleep(0)


async def _play(capacity: int, share: float, ops: list[tuple[object, ...]]) -> None:
    queue = FairQueue(
        {MODEL: capacity},
        {},
        clock=ManualClock(),
        timeout_s=600,
        max_queued=10_000,
        background_share=share,
    )
    background_cap = max(1, int(capacity * share))
    reqs: list[Req] = []
    holding: list[Req] = []
    admitted: list[Req] = []

    def waiting() -> list[Req]:
        return [r for r in reqs if r.state == "waiting"]

    async def run(req: Req) -> None:
        req.state = "waiting"
        try:
            background = req.org == BACKGROUND
            async with queue.slot(MODEL, req.org, TIERS[req.org], req.cost, background=background) as slot:
                req.state = "holding"
                holding.append(req)
                admitted.append(req)
                req.release = asyncio.get_running_loop().create_future()
                victim = await req.release
                slot.charge(req.actual)
                holding.remove(req)
                if victim is not None and not victim[1]:
                    cancel_one(victim[0])
            req.state = "done"
            if victim is not None and victim[1]:
                cancel_one(victim[0])
        except asyncio.CancelledError:
            req.state = "cancelled"
            raise

    def cancel_one(index: int) -> None:
        victims = waiting()
        if victims:
            task = victims[index % len(victims)].task
            assert task is not None
            task.cancel()

    def check() -> None:
        assert queue.in_flight(MODEL) == len(holding) <= capacity
        assert queue.depth(MODEL) == len(waiting())
        stats = queue.stats()[MODEL]
        expected = Counter((r.org, TIERS[r.org]) for r in waiting())
        assert stats.waiting_by == dict(expected)
        batch_holding = sum(r.org == BACKGROUND for r in holding)
        assert batch_holding <= background_cap
        # No place idles while someone waits: a partner, or a batch below its share.
        if any(r.org != BACKGROUND for r in waiting()):
            assert len(holding) == capacity
        elif waiting():
            assert len(holding) == capacity or batch_holding == background_cap

    for op in ops:
        if op[0] == "arrive":
            _, org, cost, extra = op
            req = Req(len(reqs), str(org), int(str(cost)), int(str(cost)) + int(str(extra)))
            req.task = asyncio.create_task(run(req))
            reqs.append(req)
        elif op[0] == "release" and holding:
            holder = holding[int(str(op[1])) % len(holding)]
            assert holder.release is not None
            holder.release.set_result(op[2])  # type: ignore[arg-type]
        elif op[0] == "cancel":
            cancel_one(int(str(op[1])))
        await _settle()
        check()

    for req in waiting():
        assert req.task is not None
        req.task.cancel()
    await _settle()
    while holding:
        for req in list(holding):
            assert req.release is not None
            req.release.set_result(None)
        await _settle()
    check()
    assert (queue.in_flight(MODEL), queue.depth(MODEL)) == (0, 0)
    for req in reqs:  # every request ran to its end or was cancelled; none failed
        assert req.task is not None and req.task.done()
        assert req.task.cancelled() or req.task.exception() is None
    for org in ORGS:  # first in, first out within one organisation
        seqs = [r.seq for r in admitted if r.org == org]
        assert seqs == sorted(seqs)
    served = sum(queue.stats()[MODEL].served_tokens.values())
    assert served == sum(r.actual for r in admitted)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 4), st.sampled_from([1.0, 0.5]), _ops)
def test_random_interleavings_keep_the_queue_consistent(
    capacity: int, share: float, ops: list[tuple[object, ...]]
) -> None:
    asyncio.run(_play(capacity, share, ops))
