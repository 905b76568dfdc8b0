"""Fairness benchmark: the fair queue at saturation, two organisations at 10:1 load.

Drives ``onshore.gateway.fair_queue.FairQueue`` directly (no HTTP) in real asyncio time, in front of a
simulated backend that serves any request in a fixed time. Each organisation runs closed-loop clients
(send, wait for the answer, send again); the large one has ten times as many, so the offered load is
about eleven times the model's capacity. Prompts and completions are drawn at random; admission
charges the prompt (the estimate) and each request corrects it to prompt + completion on the way
out, as the gateway does with the engine's usage. For each weight setting it prints each
organisation's share of served tokens beside its weighted share, and its p50/p99 queue wait.
Goal: every share within 5 % of the weighted share.

    .venv/bin/python benchmarks/fairness.py            # 4 cases x 8 s
    .venv/bin/python benchmarks/fairness.py --seconds 3 --capacity 8 --service-ms 10
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
from dataclasses import dataclass, field

from onshore.domain.limits import Tier
from onshore.gateway.clock import SystemClock
from onshore.gateway.fair_queue import FairQueue, WaitOutcome

MODEL = "bench-model"
# Ten times the load. The small organisation needs more clients than the model has places, or it could
# not stay backlogged (a closed-loop client whose answer just came has nothing waiting for a moment)
# and would rightly leave part of its share to the large one: fair queuing is work-conserving.
LARGE_CLIENTS, SMALL_CLIENTS = 80, 8
WEIGHTS = {Tier.PRIORITY: 4.0, Tier.STANDARD: 2.0, Tier.BATCH: 1.0}


@dataclass(frozen=True)
class Org:
    name: str
    tier: Tier
    clients: int
    prompt: tuple[int, int]  # tokens, uniform between
    completion: tuple[int, int]


@dataclass(frozen=True)
class Case:
    title: str
    orgs: tuple[Org, Org]


@dataclass
class Tally:
    """``QueueObserver`` that counts per organisation."""

    tokens: dict[str, int] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    waits: dict[str, list[float]] = field(default_factory=dict)
    counting: bool = False  # off during the warm-up

    def on_wait(self, model: str, org_id: str, tier: Tier, waited_s: float, outcome: WaitOutcome) -> None:
        if self.counting and outcome == "admitted":
            self.waits.setdefault(org_id, []).append(waited_s)

    def on_served(self, model: str, org_id: str, tier: Tier, tokens: int) -> None:
        if self.counting:
            self.tokens[org_id] = self.tokens.get(org_id, 0) + tokens
            self.requests[org_id] = self.requests.get(org_id, 0) + 1


def _cases() -> list[Case]:
    short = ((100, 1500), (50, 500))
    return [
        Case(
            "weights 1:1",
            (
                Org("large", Tier.STANDARD, LARGE_CLIENTS, *short),
                Org("small", Tier.STANDARD, SMALL_CLIENTS, *short),
            ),
        ),
        Case(
            "weights 2:1 (large standard, small batch)",
            (
                Org("large", Tier.STANDARD, LARGE_CLIENTS, *short),
                Org("small", Tier.BATCH, SMALL_CLIENTS, *short),
            ),
        ),
        Case(
            "weights 1:2 (large batch, small standard)",
            (
                Org("large", Tier.BATCH, LARGE_CLIENTS, *short),
                Org("small", Tier.STANDARD, SMALL_CLIENTS, *short),
            ),
        ),
        Case(
            "weights 1:1, the large org's prompts 10x longer",
            (
                Org("large", Tier.STANDARD, LARGE_CLIENTS, (1000, 15000), (50, 500)),
                Org("small", Tier.STANDARD, SMALL_CLIENTS, *short),
            ),
        ),
    ]


async def _client(queue: FairQueue, org: Org, rng: random.Random, service_s: float) -> None:
    while True:
        prompt = rng.randint(*org.prompt)
        async with queue.slot(MODEL, org.name, org.tier, prompt) as slot:
            await asyncio.sleep(service_s)  # the backend: a fixed service time, whatever the tokens
            slot.charge(prompt + rng.randint(*org.completion))


async def run_case(case: Case, *, capacity: int, service_s: float, seconds: float, seed: int) -> Tally:
    tally = Tally()
    queue = FairQueue(
        {MODEL: capacity}, WEIGHTS, clock=SystemClock(), timeout_s=60.0, max_queued=10_000, observer=tally
    )
    rng = random.Random(seed)
    tasks = [
        asyncio.create_task(_client(queue, org, random.Random(rng.random()), service_s))
        for org in case.orgs
        for _ in range(org.clients)
    ]
    warm_up = min(1.0, seconds / 5)
    await asyncio.sleep(warm_up)
    tally.counting = True
    await asyncio.sleep(seconds)
    tally.counting = False
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert queue.in_flight(MODEL) == 0, "the queue leaked a place"
    assert queue.depth(MODEL) == 0, "the queue lost count of its waiters"
    return tally


def percentile(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def report(case: Case, tally: Tally) -> list[str]:
    total = sum(tally.tokens.values()) or 1
    weight_sum = sum(WEIGHTS[o.tier] for o in case.orgs)
    rows = []
    for org in case.orgs:
        share = tally.tokens.get(org.name, 0) / total
        target = WEIGHTS[org.tier] / weight_sum
        off = (share - target) / target
        waits = tally.waits.get(org.name, [])
        rows.append(
            f"| {case.title} | {org.name} ({org.tier.value}, {org.clients} clients) "
            f"| {tally.requests.get(org.name, 0):,} | {tally.tokens.get(org.name, 0):,} "
            f"| {share:.1%} | {target:.1%} | {off:+.1%} {'✓' if abs(off) <= 0.05 else '✗'} "
            f"| {percentile(waits, 50) * 1000:.0f} | {percentile(waits, 99) * 1000:.0f} |"
        )
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per case (8)")
    parser.add_argument(
        "--capacity", type=int, default=4, help=f"requests in flight (4; at most {SMALL_CLIENTS})"
    )
    parser.add_argument("--service-ms", type=float, default=20.0, help="backend service time (20 ms)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(
        f"capacity {args.capacity}, service time {args.service_ms:g} ms "
        f"({args.capacity / args.service_ms * 1000:.0f} requests/s), {args.seconds:g} s measured per case, "
        f"tier weights priority/standard/batch {WEIGHTS[Tier.PRIORITY]:g}/{WEIGHTS[Tier.STANDARD]:g}/"
        f"{WEIGHTS[Tier.BATCH]:g}; closed-loop clients {LARGE_CLIENTS}:{SMALL_CLIENTS}\n"
    )
    print(
        "| case | organisation | requests | tokens | share of tokens | weighted share | off by "
        "| p50 wait ms | p99 wait ms |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for case in _cases():
        tally = await run_case(
            case,
            capacity=args.capacity,
            service_s=args.service_ms / 1000,
            seconds=args.seconds,
            seed=args.seed,
        )
        for row in report(case, tally):
            print(row, flush=True)


if __name__ == "__main__":
    asyncio.run(main())
