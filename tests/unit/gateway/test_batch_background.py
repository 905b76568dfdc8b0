"""A batch's requests wait in the fair queue's background lane; a cancel does not wait for them.

The real runner, pipeline and fair queue (SQLite store): a partner's request holds the model's only
place, so the batch's requests wait behind it; cancelling the batch ends the run after ``drain_s``,
and none of the waiting requests ever reaches the engine."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson

from onshore.domain.batches import BatchStatus
from onshore.domain.catalog import ModelRoute
from onshore.gateway.auth import Authenticator
from onshore.gateway.batch_runner import RunnerSettings
from onshore.gateway.fair_queue import FairQueue
from onshore.gateway.limit_book import LimitBook
from onshore.gateway.memory import RecordingTelemetry
from onshore.gateway.pipeline import build_pipeline
from onshore.gateway.routing import Router
from onshore.gateway.steps.schedule import Schedule
from tests.support.fakes import FakeClient, ListSink, ManualClock
from tests.unit.gateway.test_batch_yield import HeldBackend, _context, _serve, _wait_for, batch_of
from tests.unit.gateway.test_pipeline import AUTH, DIGESTER, _cache, chat


async def test_a_cancelled_batch_stops_though_its_requests_wait_behind_partners(tmp_path: Path) -> None:
    clock = ManualClock()
    backend = HeldBackend()
    queue = FairQueue({"m": 1}, {}, clock=clock, timeout_s=30.0, max_queued=100)
    cache = _cache()
    pipeline = build_pipeline(
        authenticator=Authenticator(DIGESTER, cache),
        router=Router([backend], [ModelRoute("m", "m", "a")], clock),
        sink=ListSink(),
        telemetry=RecordingTelemetry(),
        clock=clock,
        max_body_bytes=1 << 20,
        admission=[Schedule(queue, LimitBook(), prompt_bytes_per_token=3.0)],
    )
    principal = cache.principal_for("key_1")
    assert principal is not None
    settings = RunnerSettings(
        concurrency=3, poll_interval_s=0.05, lease_s=60, drain_s=0.2, output_retention_s=None
    )
    service, batch, runner = await batch_of(tmp_path, clock, pipeline, cache, 5, settings)
    # A partner's request holds the model's only place for as long as the test says.
    partner = FakeClient(orjson.dumps(chat(messages=[{"role": "user", "content": "interactive"}])), AUTH)
    interactive = asyncio.create_task(_serve(pipeline, _context(clock, partner)))
    await _wait_for(lambda: queue.in_flight("m") == 1)
    running = asyncio.create_task(runner.run_once())
    await _wait_for(lambda: queue.depth("m") == 3)  # the batch's requests wait in the background lane
    await service.cancel(principal.org_id, batch.id)
    async with asyncio.timeout(5):
        await running
    assert backend.batch_done == 0 and backend.batch_in_flight == 0
    assert queue.depth("m") == 0 and queue.in_flight("m") == 1  # the partner's request still runs
    done = await service.batch(principal.org_id, batch.id)
    assert done.status is BatchStatus.CANCELLED and done.request_completed == 0
    backend.partner.set()
    await interactive
    assert partner.status == 200 and queue.in_flight("m") == 0
