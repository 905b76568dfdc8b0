"""Wiring admission: the limits snapshot and its sync, the counter store, the fair queue and their steps."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from onshore.admin.prices import prices_from_settings
from onshore.config.settings import Settings
from onshore.domain.limits import Tier
from onshore.gateway.chain import Step
from onshore.gateway.fair_queue import FairQueue, WaitOutcome
from onshore.gateway.limit_book import LimitBook, LimitSync
from onshore.gateway.memory import MemoryCounterStore
from onshore.gateway.quota_seed import QuotaSeeder
from onshore.gateway.steps.admit import Admit, GuardedCounters
from onshore.gateway.steps.interactive import CountInteractive
from onshore.gateway.steps.schedule import Schedule
from onshore.gateway.traffic import InteractiveTraffic
from onshore.ports import Clock, CounterStore, LimitsStore, Telemetry, UsageReader

log = logging.getLogger(__name__)


@dataclass
class AdmissionParts:
    book: LimitBook
    sync: LimitSync
    counters: GuardedCounters
    queue: FairQueue
    queued_models: tuple[str, ...]  # the models with a capacity
    steps: Sequence[Step]
    seeder: QuotaSeeder  # monthly quotas raised to the ledger's totals (at start, then periodically)
    traffic: InteractiveTraffic  # partners' requests in flight: the batch runner steps aside for them

    async def stop(self) -> None:
        await self.sync.stop()
        await self.seeder.stop()
        await self.counters.drain()
        close = getattr(self.counters.store, "aclose", None)
        if close is not None:
            await close()


def model_capacities(settings: Settings) -> dict[str, int]:
    """Public model -> requests in flight at once (per replica), summed over the backends serving it.

    A model is queued only when every backend serving it sets ``max_in_flight``: one without a
    capacity means the model's capacity is unknown, and the engine queues for itself."""
    total: dict[str, int] = {}
    unknown: set[str] = set()
    for backend in settings.backends:
        for model in backend.models:
            if model.max_in_flight is None:
                unknown.add(model.name)
            else:
                total[model.name] = total.get(model.name, 0) + model.max_in_flight
    return {name: value for name, value in total.items() if name not in unknown}


def _counter_store(settings: Settings, clock: Clock, telemetry: Telemetry) -> CounterStore:
    kind = settings.limits.store
    if kind == "auto":
        kind = "redis" if settings.redis.url else "memory"
    if kind == "memory":
        return MemoryCounterStore(clock)
    if not settings.redis.url:  # pragma: no cover - refused by the config checks
        raise ValueError("limits.store is 'redis' but redis.url is not set")
    from onshore.store.state.counters import RedisCounterStore  # noqa: PLC0415 - only with Redis

    return RedisCounterStore(
        settings.redis.url, timeout_s=settings.limits.store_timeout_s, on_error=telemetry.limits_unavailable
    )


def build_admission(
    settings: Settings,
    store: LimitsStore,
    clock: Clock,
    telemetry: Telemetry,
    org_name: Callable[[str], str],
    usage: UsageReader,
) -> AdmissionParts:
    book = LimitBook(prices_from_settings(settings.prices), home=settings.server.jurisdiction)
    sync = LimitSync(store, book, interval_s=settings.limits.sync_interval_s)
    counter_store = _counter_store(settings, clock, telemetry)
    limits = settings.limits
    counters = GuardedCounters(
        counter_store,
        fail_open=limits.on_store_error == "open",
        retry_s=limits.store_retry_s,
        clock=clock,
        telemetry=telemetry,
    )
    admit = Admit(
        book,
        counters,
        clock,
        telemetry,
        default_max_tokens=limits.default_max_tokens,
        prompt_bytes_per_token=limits.prompt_bytes_per_token,
    )
    scheduling = settings.scheduling
    capacities = model_capacities(settings)
    queue = FairQueue(
        capacities,
        scheduling.tier_weights,
        clock=clock,
        timeout_s=scheduling.queue_timeout_s,
        max_queued=scheduling.max_queued,
        observer=_QueueTelemetry(telemetry, org_name),
        background_share=scheduling.batch_max_share,
    )
    traffic = InteractiveTraffic(clock)
    # Counted only where a batch runner reads it: a replica that runs no batch keeps the step off
    # its hot path (as the queue step below).
    steps: list[Step] = [CountInteractive(traffic), admit] if settings.batches.enabled else [admit]
    if capacities:  # no model has a capacity: no queue step at all on the hot path
        steps.append(Schedule(queue, book, prompt_bytes_per_token=limits.prompt_bytes_per_token))
    seeder = QuotaSeeder(usage, book, counter_store, clock, interval_s=limits.reseed_interval_s)
    return AdmissionParts(book, sync, counters, queue, tuple(sorted(capacities)), steps, seeder, traffic)


class _QueueTelemetry:
    """The queue's reports as telemetry, labelled by organisation name (what operators know)."""

    def __init__(self, telemetry: Telemetry, org_name: Callable[[str], str]) -> None:
        self._telemetry = telemetry
        self._org_name = org_name

    def on_wait(self, model: str, org_id: str, tier: Tier, waited_s: float, outcome: WaitOutcome) -> None:
        self._telemetry.request_queued(model, self._org_name(org_id), tier.value, waited_s, outcome)

    def on_served(self, model: str, org_id: str, tier: Tier, tokens: int) -> None:
        self._telemetry.tokens_served(self._org_name(org_id), tier.value, tokens)
