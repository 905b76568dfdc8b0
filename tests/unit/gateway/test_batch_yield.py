"""A batch steps aside for partners' interactive requests: the composed pipeline counts them, and the
runner keeps ``yield_concurrency`` of its requests in flight while one is served (SQLite store, the
real runner, a backend that holds each call until told)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from pathlib import Path

import orjson

from onshore.domain.batches import Batch, BatchStatus
from onshore.domain.catalog import Endpoint, ModelRoute
from onshore.gateway.auth import Authenticator, KeyCache
from onshore.gateway.batch_runner import BatchRunner, RunnerSettings
from onshore.gateway.batches import BatchService
from onshore.gateway.chain import Handler
from onshore.gateway.context import RequestContext
from onshore.gateway.memory import RecordingTelemetry
from onshore.gateway.pipeline import build_pipeline
from onshore.gateway.routing import Router
from onshore.gateway.steps.interactive import CountInteractive
from onshore.gateway.traffic import InteractiveTraffic
from onshore.ports import BackendCall
from onshore.store.file_store import LocalFileStore
from onshore.store.sql.batches import SqlBatchStore
from onshore.store.sql.engine import make_engine
from onshore.store.sql.files import SqlFileIndex
from onshore.store.sql.migrate import upgrade
from tests.support.fakes import FakeClient, FakeReply, ListSink, ManualClock
from tests.unit.gateway.test_pipeline import AUTH, DIGESTER, USAGE, _cache, chat

ANSWER = orjson.dumps({"model": "m", "usage": USAGE, "choices": []})


class HeldBackend:
    """Each call waits until released: the partner's (its prompt says "interactive") by ``partner``,
    the batch's by ``batch``; counts the batch's calls in flight and the most seen at once."""

    kind = "fake"
    name = "a"

    def __init__(self) -> None:
        self.partner = asyncio.Event()
        self.batch = asyncio.Event()
        self.batch_in_flight = 0
        self.batch_most = 0
        self.batch_done = 0

    async def start(self) -> None: ...
    async def aclose(self) -> None: ...

    async def check_health(self) -> bool:
        return True

    async def send(self, call: BackendCall) -> FakeReply:
        interactive = b"interactive" in call.body
        if not interactive:
            self.batch_in_flight += 1
            self.batch_most = max(self.batch_most, self.batch_in_flight)
        try:
            await (self.partner if interactive else self.batch).wait()
        finally:
            if not interactive:
                self.batch_in_flight -= 1
                self.batch_done += 1
        return FakeReply(200, ANSWER)


async def _wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110  # the condition is another task's side effect
            await asyncio.sleep(0.005)


async def test_a_batch_keeps_one_request_in_flight_while_a_partner_is_served_then_runs_at_its_concurrency(
    tmp_path: Path,
) -> None:
    clock = ManualClock()
    backend = HeldBackend()
    traffic = InteractiveTraffic(clock)
    cache = _cache()
    pipeline = build_pipeline(
        authenticator=Authenticator(DIGESTER, cache),
        router=Router([backend], [ModelRoute("m", "m", "a")], clock),
        sink=ListSink(),
        telemetry=RecordingTelemetry(),
        clock=clock,
        max_body_bytes=1 << 20,
        admission=[CountInteractive(traffic)],
    )
    principal = cache.principal_for("key_1")
    assert principal is not None
    service, batch, runner = await batch_of(
        tmp_path,
        clock,
        pipeline,
        cache,
        12,
        RunnerSettings(
            concurrency=6,
            poll_interval_s=0.05,
            lease_s=60,
            drain_s=5,
            output_retention_s=None,
            yield_hold_s=0.0,
        ),
        traffic,
    )
    # A partner's request is in flight (held at the engine) before the batch starts.
    partner = FakeClient(orjson.dumps(chat(messages=[{"role": "user", "content": "interactive"}])), AUTH)
    interactive = asyncio.create_task(_serve(pipeline, _context(clock, partner)))
    await _wait_for(lambda: traffic.in_flight == 1)
    running = asyncio.create_task(runner.run_once())
    await _wait_for(lambda: backend.batch_in_flight == 1)
    await asyncio.sleep(0.1)  # time enough for the runner to start more, were it not stepping aside
    assert backend.batch_most == 1
    backend.partner.set()  # the partner's request ends: the batch takes the room (no hold here)
    await interactive
    assert partner.status == 200 and traffic.in_flight == 0
    await _wait_for(lambda: backend.batch_in_flight == 6)
    backend.batch.set()
    assert await running
    assert backend.batch_done == 12
    done = await service.batch(principal.org_id, batch.id)
    assert done.status is BatchStatus.COMPLETED and done.request_completed == 12


def test_traffic_is_busy_while_a_request_is_in_flight_and_for_the_hold_after() -> None:
    clock = ManualClock()
    traffic = InteractiveTraffic(clock)
    assert not traffic.busy(0.5)  # nothing ever served
    traffic.started()
    assert traffic.busy(0.0)
    traffic.ended()
    assert traffic.busy(0.5) and not traffic.busy(0.0)  # the hold: a partner's next request comes soon
    clock.advance(0.6)
    assert not traffic.busy(0.5)


async def _serve(pipeline: Handler, ctx: RequestContext) -> None:
    await pipeline(ctx)


def _context(clock: ManualClock, client: FakeClient) -> RequestContext:
    return RequestContext("req_i", Endpoint.CHAT, client, clock.monotonic(), clock.now())


async def batch_of(
    tmp_path: Path,
    clock: ManualClock,
    pipeline: Handler,
    cache: KeyCache,
    requests: int,
    settings: RunnerSettings,
    traffic: InteractiveTraffic | None = None,
) -> tuple[BatchService, Batch, BatchRunner]:
    """A batch of ``requests`` chat requests of key_1's organisation (SQLite store), and a runner."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    files, index, store = LocalFileStore(tmp_path / "files"), SqlFileIndex(engine), SqlBatchStore(engine)
    service = BatchService(
        files=files,
        index=index,
        batches=store,
        clock=clock,
        max_file_bytes=1 << 20,
        max_requests=100,
        retention_s=None,
    )
    principal = cache.principal_for("key_1")
    assert principal is not None
    lines = b"".join(
        orjson.dumps({"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions", "body": chat()})
        + b"\n"
        for i in range(requests)
    )
    upload = await service.upload(principal.org_id, "batch", "in.jsonl", io.BytesIO(lines))
    batch = await service.create(
        principal,
        input_file_id=upload.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata=None,
    )
    runner = BatchRunner(
        store=store,
        files=files,
        index=index,
        pipeline=pipeline,
        principal_for=cache.principal_for,
        ready=lambda: True,
        clock=clock,
        settings=settings,
        traffic=traffic,
    )
    return service, batch, runner
