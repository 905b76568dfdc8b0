"""The fair queue's background lane, where a batch's requests wait: let through only when no partner's
request waits (a strict priority), fair across organisations' batches, never timed out or refused for
a full queue, and leaking no place when cancelled."""

from __future__ import annotations

import asyncio
from collections import Counter

from onshore.domain.limits import Tier
from tests.unit.gateway.test_fair_queue import MODEL, Harness, Recorder, make_queue, settle


async def test_a_background_request_waits_for_every_foreground_one_whatever_came_first() -> None:
    queue = make_queue(capacity=2)
    h = Harness(queue)
    batch = [h.submit("a", Tier.PRIORITY, 10, background=True) for _ in range(10)]
    await settle()
    assert sum(r.entered for r in batch) == 2  # places were free: a batch may fill them
    partners = [h.submit(org, tier, 10) for org, tier in (("b", Tier.BATCH), ("c", Tier.STANDARD)) * 3]
    await settle()
    await h.release_next(6)
    assert all(p.entered for p in partners)
    assert sum(r.entered for r in batch) == 2  # the batch got none of the six places that freed
    await h.release_next(8)
    assert all(r.entered for r in batch)
    await h.release_next(2)
    assert (queue.in_flight(MODEL), queue.depth(MODEL)) == (0, 0)


async def test_batches_of_two_organisations_share_what_is_left_equally() -> None:
    h = Harness(make_queue(capacity=1))
    for _ in range(300):
        h.submit("big", Tier.BATCH, 100, background=True)
    for _ in range(60):
        h.submit("small", Tier.BATCH, 100, background=True)
    await settle()
    await h.release_next(100)
    counts = Counter(r.org for r in h.admitted[1:])
    assert abs(counts["big"] - counts["small"]) <= 2


async def test_an_organisations_batch_is_no_debt_for_its_interactive_requests() -> None:
    h = Harness(make_queue(capacity=1))
    holder = h.submit("a", Tier.STANDARD, 10)
    for _ in range(50):
        h.submit("a", Tier.BATCH, 10_000, background=True)
    await settle()
    await h.release_next(30)  # "a"'s batch ran 30 x 10,000 tokens while nobody else waited
    assert holder.entered
    start = len(h.admitted)
    for org in ("a", "b") * 40:
        h.submit(org, Tier.STANDARD, 100)
    await settle()
    await h.release_next(40)
    counts = Counter(r.org for r in h.admitted[start : start + 40])
    assert abs(counts["a"] - counts["b"]) <= 2


async def test_a_background_waiter_has_no_deadline_and_no_queue_limit() -> None:
    recorder = Recorder()
    queue = make_queue(capacity=1, timeout_s=0.05, max_queued=1, observer=recorder)
    h = Harness(queue)
    h.submit("p", Tier.STANDARD, 10)
    batch = [h.submit("a", Tier.BATCH, 10, background=True) for _ in range(5)]  # past max_queued
    await settle()
    partner = h.submit("p", Tier.STANDARD, 10)
    await asyncio.sleep(0.15)
    assert partner.task is not None and partner.task.done()  # the partner's deadline passed
    assert partner.task.exception() is not None
    assert recorder.outcomes("p") == ["admitted", "timeout"]
    assert not any(r.task is None or r.task.done() for r in batch)  # the batch still waits
    await h.release_next(6)
    assert all(r.entered for r in batch)
    assert recorder.outcomes("a") == ["admitted"] * 5


async def test_a_cancelled_background_waiter_leaks_no_place() -> None:
    queue = make_queue(capacity=1)
    h = Harness(queue)
    h.submit("p", Tier.STANDARD, 10)
    batch = [h.submit("a", Tier.BATCH, 10, background=True) for _ in range(3)]
    partner = h.submit("p", Tier.STANDARD, 10)
    await settle()
    for r in batch[:2]:
        assert r.task is not None
        r.task.cancel()
    await settle()
    assert queue.depth(MODEL) == 2
    await h.release_next(2)
    assert partner.entered and batch[2].entered
    await h.release_next()
    assert (queue.in_flight(MODEL), queue.depth(MODEL)) == (0, 0)


async def test_batch_requests_hold_at_most_their_share_of_the_places() -> None:
    queue = make_queue(capacity=4, background_share=0.5)
    h = Harness(queue)
    batch = [h.submit("a", Tier.BATCH, 10, background=True) for _ in range(6)]
    await settle()
    assert sum(r.entered for r in batch) == 2  # two places of four, though four are free
    partners = [h.submit("p", Tier.STANDARD, 10) for _ in range(2)]
    await settle()
    assert all(p.entered for p in partners)  # straight into the places the batch left free
    assert (queue.in_flight(MODEL), queue.depth(MODEL)) == (4, 4)
    await h.release_next(2)  # two batch requests end: the next two take their places
    assert sum(r.entered for r in batch) == 4
    await h.release_next(2)  # the partners end: their places stay free, the batch is at its share
    assert sum(r.entered for r in batch) == 4 and queue.in_flight(MODEL) == 2
    await h.release_next(4)
    assert all(r.entered for r in batch)
    assert (queue.in_flight(MODEL), queue.depth(MODEL)) == (0, 0)


async def test_a_model_of_one_place_still_runs_batches() -> None:
    h = Harness(make_queue(capacity=1, background_share=0.1))
    batch = [h.submit("a", Tier.BATCH, 10, background=True) for _ in range(3)]
    await settle()
    await h.release_next(2)
    assert all(r.entered for r in batch)
