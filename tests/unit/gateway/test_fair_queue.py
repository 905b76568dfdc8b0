"""The fair queue on its own: admission at capacity, VTC shares in tokens across organisations and
tiers, deadlines, a full queue, and cancellation (including the cancel-versus-grant race) leaking no
place. Requests are tasks that hold their place until the test releases them, one at a time, so every
share below is exact for a given order of events."""

from __future__ import annotations

import asyncio
import random
from collections import Counter, deque
from dataclasses import dataclass, field

import orjson
import pytest

from onshore.domain.limits import Tier
from onshore.errors import QueueTimeout, error_body
from onshore.gateway.fair_queue import FairQueue, QueueFull, WaitOutcome
from tests.support.fakes import ManualClock

MODEL = "m"


class Recorder:
    """``QueueObserver`` that keeps every call."""

    def __init__(self) -> None:
        self.waits: list[tuple[str, Tier, float, WaitOutcome]] = []
        self.served: Counter[str] = Counter()

    def on_wait(self, model: str, org_id: str, tier: Tier, waited_s: float, outcome: WaitOutcome) -> None:
        self.waits.append((org_id, tier, waited_s, outcome))

    def on_served(self, model: str, org_id: str, tier: Tier, tokens: int) -> None:
        self.served[org_id] += tokens

    def outcomes(self, org_id: str) -> list[WaitOutcome]:
        return [w[3] for w in self.waits if w[0] == org_id]


def make_queue(
    capacity: int = 1,
    *,
    timeout_s: float = 60.0,
    max_queued: int = 100_000,
    clock: ManualClock | None = None,
    observer: Recorder | None = None,
    weights: dict[Tier, float] | None = None,
    background_share: float = 1.0,
) -> FairQueue:
    return FairQueue(
        {MODEL: capacity},
        weights or {Tier.PRIORITY: 4, Tier.STANDARD: 2, Tier.BATCH: 1},
        clock=clock or ManualClock(),
        timeout_s=timeout_s,
        max_queued=max_queued,
        observer=observer,
        background_share=background_share,
    )


async def settle(rounds: int = 10) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


@dataclass(eq=False)
class Req:
    org: str
    tier: Tier
    cost: int
    actual: int | None = None  # what slot.charge() reports on the way out; None: never called
    background: bool = False  # a batch's request: the queue's background lane
    release: asyncio.Event = field(default_factory=asyncio.Event)
    entered: bool = False
    task: asyncio.Task[None] | None = None

    @property
    def served(self) -> int:
        return self.cost if self.actual is None else self.actual


class Harness:
    """Requests as tasks; each holds its place until ``release_next`` lets the oldest one go."""

    def __init__(self, queue: FairQueue) -> None:
        self.queue = queue
        self.holding: deque[Req] = deque()
        self.admitted: list[Req] = []

    def submit(
        self, org: str, tier: Tier, cost: int, actual: int | None = None, *, background: bool = False
    ) -> Req:
        req = Req(org, tier, cost, actual, background)
        req.task = asyncio.create_task(self._run(req))
        return req

    async def _run(self, req: Req) -> None:
        async with self.queue.slot(MODEL, req.org, req.tier, req.cost, background=req.background) as slot:
            req.entered = True
            self.holding.append(req)
            self.admitted.append(req)
            await req.release.wait()
            if req.actual is not None:
                slot.charge(req.actual)

    async def release_next(self, times: int = 1) -> None:
        for _ in range(times):
            self.holding.popleft().release.set()
            await settle()

    def tokens(self, since: int = 0) -> Counter[str]:
        served: Counter[str] = Counter()
        for req in self.admitted[since:]:
            served[req.org] += req.served
        return served


# --- admission -------------------------------------------------------------------------------------


async def test_below_capacity_admits_at_once_and_at_capacity_waits() -> None:
    queue = make_queue(capacity=2)
    h = Harness(queue)
    first, second, third = (h.submit("a", Tier.STANDARD, 10) for _ in range(3))
    await settle()
    assert first.entered and second.entered and not third.entered
    assert (queue.in_flight(MODEL), queue.depth(MODEL)) == (2, 1)
    await h.release_next()
    assert third.entered
    assert (queue.in_flight(MODEL), queue.depth(MODEL)) == (2, 0)
    await h.release_next(2)
    assert (queue.in_flight(MODEL), queue.depth(MODEL)) == (0, 0)


async def test_a_model_without_capacity_is_never_queued() -> None:
    queue = make_queue(capacity=1)
    slots = [queue.slot("other", "a", Tier.BATCH, 10) for _ in range(100)]
    for slot in slots:
        await slot.__aenter__()
    assert (queue.in_flight("other"), queue.depth("other")) == (0, 0)
    slots[0].charge(50)  # accepted and ignored
    for slot in slots:
        await slot.__aexit__(None, None, None)
    assert "other" not in queue.stats()


async def test_an_exception_in_the_block_releases_the_place() -> None:
    queue = make_queue(capacity=1)
    h = Harness(queue)
    with pytest.raises(ValueError, match="boom"):
        async with queue.slot(MODEL, "a", Tier.STANDARD, 10):
            waiter = h.submit("b", Tier.STANDARD, 10)
            await settle()
            assert queue.depth(MODEL) == 1
            raise ValueError("boom")
    await settle()
    assert waiter.entered and queue.in_flight(MODEL) == 1
    await h.release_next()
    assert queue.in_flight(MODEL) == 0


async def test_stats_count_waiting_and_served_tokens_per_org_and_tier() -> None:
    recorder = Recorder()
    queue = make_queue(capacity=1, observer=recorder)
    h = Harness(queue)
    h.submit("a", Tier.STANDARD, 10, actual=15)
    h.submit("b", Tier.BATCH, 20)
    h.submit("b", Tier.BATCH, 20)
    await settle()
    stats = queue.stats()[MODEL]
    assert (stats.capacity, stats.in_flight, stats.waiting) == (1, 1, 2)
    assert stats.waiting_by == {("b", Tier.BATCH): 2}
    await h.release_next(3)
    stats = queue.stats()[MODEL]
    assert stats.served_tokens == {("a", Tier.STANDARD): 15, ("b", Tier.BATCH): 40}
    assert stats.waiting_by == {} and stats.in_flight == 0
    assert recorder.served == {"a": 15, "b": 40}
    assert recorder.outcomes("b") == ["admitted", "admitted"]


# --- shares --------------------------------------------------------------------------------------


async def test_equal_weights_share_equally_whatever_the_queue_lengths() -> None:
    h = Harness(make_queue(capacity=2))
    for _ in range(1000):
        h.submit("big", Tier.STANDARD, 100)
    for _ in range(100):
        h.submit("small", Tier.STANDARD, 100)
    await settle()
    await h.release_next(150)
    counts = Counter(r.org for r in h.admitted[2:])
    assert abs(counts["big"] - counts["small"]) <= 2


async def test_weights_two_to_one_give_two_thirds_of_the_tokens() -> None:
    rng = random.Random(7)
    h = Harness(make_queue(capacity=4))
    # Prompts of every size, and completions the estimate did not know about (charged on the way out).
    for org, tier, n in (("a", Tier.STANDARD, 900), ("b", Tier.BATCH, 900)):
        for _ in range(n):
            prompt = rng.randint(50, 500)
            h.submit(org, tier, prompt, actual=prompt + rng.randint(0, 300))
    await settle()
    await h.release_next(800)
    tokens = h.tokens(since=4)
    share = tokens["a"] / (tokens["a"] + tokens["b"])
    assert share == pytest.approx(2 / 3, rel=0.05)


async def test_long_prompts_buy_no_more_than_the_share_in_tokens() -> None:
    h = Harness(make_queue(capacity=2))
    for _ in range(300):
        h.submit("long", Tier.STANDARD, 1000)
    for _ in range(1500):
        h.submit("short", Tier.STANDARD, 100)
    await settle()
    await h.release_next(1100)
    tokens = h.tokens(since=2)
    assert tokens["long"] / (tokens["long"] + tokens["short"]) == pytest.approx(0.5, rel=0.05)
    counts = Counter(r.org for r in h.admitted[2:])
    assert counts["short"] > 8 * counts["long"]  # VTC counts tokens, not requests


async def test_priority_goes_first_in_proportion_to_the_weights() -> None:
    h = Harness(make_queue(capacity=1))
    for _ in range(600):
        h.submit("batchy", Tier.BATCH, 100)
    for _ in range(600):
        h.submit("urgent", Tier.PRIORITY, 100)
    await settle()
    await h.release_next(500)
    counts = Counter(r.org for r in h.admitted[1:])
    assert counts["urgent"] == pytest.approx(400, abs=3)  # 4 : 1


async def test_an_actual_charge_larger_than_the_estimate_slows_the_org_down() -> None:
    h = Harness(make_queue(capacity=1))
    for _ in range(200):
        h.submit("verbose", Tier.STANDARD, 100, actual=1000)  # long completions
    for _ in range(600):
        h.submit("terse", Tier.STANDARD, 100, actual=100)
    await settle()
    await h.release_next(550)
    tokens = h.tokens(since=1)
    assert tokens["verbose"] / (tokens["verbose"] + tokens["terse"]) == pytest.approx(0.5, rel=0.05)


@pytest.mark.parametrize("waited_before", [0, 5])
async def test_an_idle_org_returning_gets_its_share_and_no_burst(waited_before: int) -> None:
    h = Harness(make_queue(capacity=1))
    for _ in range(400):
        h.submit("busy", Tier.STANDARD, 100)
    for _ in range(waited_before):  # served early in this busy period, then idle while "busy" is not
        h.submit("idle", Tier.STANDARD, 100)
    await settle()
    await h.release_next(200)  # "busy" alone for a long time; "idle" banked nothing meanwhile
    for _ in range(100):
        h.submit("idle", Tier.STANDARD, 100)
    await settle()
    start = len(h.admitted)
    await h.release_next(40)
    counts = Counter(r.org for r in h.admitted[start:])
    assert counts["idle"] == pytest.approx(20, abs=2)


async def test_use_in_an_earlier_busy_period_is_no_debt_in_the_next() -> None:
    h = Harness(make_queue(capacity=1))
    # Busy period 1: "heavy" is charged a huge completion after its requests were queued.
    for _ in range(3):
        h.submit("heavy", Tier.STANDARD, 100, actual=100_000)
    await settle()
    await h.release_next(3)  # the last release frees the place with nobody waiting: the period ends
    # Uncontended use (admitted at once) counts against no one either.
    for _ in range(20):
        async with h.queue.slot(MODEL, "heavy", Tier.STANDARD, 100_000):
            pass
    # Busy period 2: "light" starts waiting first, then "heavy": they alternate.
    h.submit("light", Tier.STANDARD, 100)  # takes the free place
    for _ in range(50):
        h.submit("light", Tier.STANDARD, 100)
        h.submit("heavy", Tier.STANDARD, 100)
    await settle()
    start = len(h.admitted)
    await h.release_next(40)
    counts = Counter(r.org for r in h.admitted[start:])
    assert counts["heavy"] == pytest.approx(20, abs=2)


# --- deadlines and a full queue --------------------------------------------------------------------


async def test_a_waiter_past_its_deadline_gets_queue_timeout_and_never_runs() -> None:
    clock = ManualClock()
    recorder = Recorder()
    queue = make_queue(capacity=1, timeout_s=0.05, clock=clock, observer=recorder)
    entered = False

    async def late() -> None:
        nonlocal entered
        async with queue.slot(MODEL, "b", Tier.STANDARD, 10):
            entered = True

    async with queue.slot(MODEL, "a", Tier.STANDARD, 10):
        task = asyncio.create_task(late())
        await settle()
        assert queue.depth(MODEL) == 1
        clock.advance(5.0)  # waited seconds come from the Clock port; the deadline from the loop
        with pytest.raises(QueueTimeout) as caught:
            await task
        assert queue.depth(MODEL) == 0
        assert queue.in_flight(MODEL) == 1
    assert not entered
    assert queue.in_flight(MODEL) == 0
    assert recorder.waits[-1] == ("b", Tier.STANDARD, 5.0, "timeout")
    error = caught.value
    assert error.status == 503 and error.code == "queue_timeout"
    assert dict(error.headers)[b"retry-after"] == b"1"  # timeout_s / 10, at least a second
    assert dict(error.headers)[b"retry-after-ms"] == b"1000"
    body = orjson.loads(error_body(error))["error"]
    assert (body["type"], body["code"]) == ("server_error", "queue_timeout")
    assert "capacity" in body["message"]


async def test_more_than_max_queued_is_refused_at_once() -> None:
    recorder = Recorder()
    queue = make_queue(capacity=1, max_queued=2, observer=recorder)
    h = Harness(queue)
    for _ in range(3):
        h.submit("a", Tier.STANDARD, 10)
    await settle()
    assert queue.depth(MODEL) == 2
    with pytest.raises(QueueFull) as caught:
        async with queue.slot(MODEL, "b", Tier.STANDARD, 10):
            pytest.fail("a refused request must not run")
    assert isinstance(caught.value, QueueTimeout) and caught.value.code == "queue_timeout"
    assert recorder.outcomes("b") == ["full"]
    assert queue.depth(MODEL) == 2


# --- cancellation ------------------------------------------------------------------------------------


async def test_a_cancelled_waiter_leaves_at_once_and_the_next_one_is_admitted() -> None:
    recorder = Recorder()
    queue = make_queue(capacity=1, observer=recorder)
    h = Harness(queue)
    h.submit("a", Tier.STANDARD, 10)
    gone = h.submit("b", Tier.STANDARD, 10)
    nxt = h.submit("c", Tier.STANDARD, 10)
    await settle()
    assert queue.depth(MODEL) == 2
    assert gone.task is not None
    gone.task.cancel()
    await settle()
    assert gone.task.cancelled()
    assert (queue.depth(MODEL), queue.in_flight(MODEL)) == (1, 1)
    assert queue.stats()[MODEL].waiting_by == {("c", Tier.STANDARD): 1}
    await h.release_next()
    assert nxt.entered and not gone.entered
    assert (queue.depth(MODEL), queue.in_flight(MODEL)) == (0, 1)
    assert recorder.outcomes("b") == ["left"]


async def test_cancelled_just_before_a_place_frees_is_skipped() -> None:
    queue = make_queue(capacity=1)
    h = Harness(queue)
    holder = queue.slot(MODEL, "a", Tier.STANDARD, 10)
    await holder.__aenter__()
    gone = h.submit("b", Tier.STANDARD, 10)
    nxt = h.submit("c", Tier.STANDARD, 10)
    await settle()
    assert gone.task is not None
    gone.task.cancel()  # its future is cancelled now; the task counts itself out only when it runs
    await holder.__aexit__(None, None, None)  # in the same iteration: the place must go to "c"
    await settle()
    assert nxt.entered and gone.task.cancelled()
    assert (queue.depth(MODEL), queue.in_flight(MODEL)) == (0, 1)


@pytest.mark.parametrize("others_waiting", [0, 1])
async def test_cancelled_in_the_iteration_its_place_was_granted_leaks_nothing(others_waiting: int) -> None:
    recorder = Recorder()
    queue = make_queue(capacity=1, observer=recorder)
    h = Harness(queue)
    holder = queue.slot(MODEL, "a", Tier.STANDARD, 10)
    await holder.__aenter__()
    racer = h.submit("b", Tier.STANDARD, 10)
    others = [h.submit("c", Tier.STANDARD, 10) for _ in range(others_waiting)]
    await settle()
    assert racer.task is not None
    await holder.__aexit__(None, None, None)  # grants the place to "b" ...
    racer.task.cancel()  # ... whose task is cancelled before it could run
    await settle()
    assert racer.task.cancelled() and not racer.entered
    assert all(o.entered for o in others)
    assert (queue.depth(MODEL), queue.in_flight(MODEL)) == (0, others_waiting)
    assert recorder.outcomes("b") == ["left"]  # once, not "admitted" as well
    await h.release_next(others_waiting)
    assert queue.in_flight(MODEL) == 0


async def test_the_race_refunds_the_tokens_charged_for_the_place() -> None:
    queue = make_queue(capacity=1)
    h = Harness(queue)
    holder = queue.slot(MODEL, "x", Tier.STANDARD, 10)
    await holder.__aenter__()
    racer = h.submit("b", Tier.STANDARD, 100_000)
    await settle()
    for _ in range(20):
        h.submit("c", Tier.STANDARD, 100)
    for _ in range(20):
        h.submit("b", Tier.STANDARD, 100)
    await settle()
    assert racer.task is not None
    await holder.__aexit__(None, None, None)
    racer.task.cancel()
    await settle()
    start = len(h.admitted)
    await h.release_next(20)
    # Had "b" kept the 100,000 tokens of the request that never ran, "c" would get all 20.
    counts = Counter(r.org for r in h.admitted[start - 1 :])
    assert counts["b"] >= 9
