"""Runs batches on this replica: takes one whose lease is free, runs its pending requests through the
pipeline partners use, commits each result, writes the output and error files (docs/batches.md).

Each request is a synthetic one carrying the batch owner's identity (``BatchChannel``): metering,
authentication (the key checked again), access, sovereignty, admission, the fair queue (its
background lane: only what partners leave) and routing all apply, and its ledger row carries the
batch id. Results are committed in small groups as they finish (one transaction each, while this
replica still holds the lease); a request whose result was committed is never run again, one whose
result was not is run by whoever holds the batch next. On shutdown the requests in flight get
``drain_s`` to finish and be committed first, so a stop loses and repeats nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from onshore.domain.batches import FILE_PURPOSE_BATCH_OUTPUT, Batch, BatchStatus, RequestResult, StoredFile
from onshore.domain.catalog import Endpoint
from onshore.domain.tenancy import Principal
from onshore.errors import OnshoreError, error_body
from onshore.gateway.batch_channel import BatchChannel
from onshore.gateway.batch_input import read_requests
from onshore.gateway.batch_lines import (
    EXPIRED,
    KEY_GONE,
    chain,
    error_entry,
    new_id,
    output_line,
    result_line,
)
from onshore.gateway.chain import Handler
from onshore.gateway.context import RequestContext
from onshore.gateway.traffic import InteractiveTraffic
from onshore.ports import BatchStore, Clock, FileIndex, FileStore

log = logging.getLogger(__name__)

ENDPOINTS = {
    "/v1/chat/completions": Endpoint.CHAT,
    "/v1/completions": Endpoint.COMPLETIONS,
    "/v1/embeddings": Endpoint.EMBEDDINGS,
}
_COMMIT_MAX = 256  # results per transaction at most
_FROM_VALIDATING = frozenset({BatchStatus.VALIDATING})
_FROM_RUNNING = frozenset({BatchStatus.IN_PROGRESS})
_GONE = "The input file was deleted before the batch could run."
_SETTLE_POLL_S = 0.25  # how soon a halt is seen while the last requests run
_YIELD_POLL_S = 0.005  # how often a batch stepping aside looks again (200 wake-ups a second at most)


@dataclass(frozen=True, slots=True)
class RunnerSettings:
    concurrency: int
    poll_interval_s: float
    lease_s: float
    drain_s: float
    output_retention_s: float | None
    yield_concurrency: int = 1  # requests in flight while partners' interactive ones are served
    yield_hold_s: float = 0.5


class BatchRunner:
    def __init__(
        self,
        *,
        store: BatchStore,
        files: FileStore,
        index: FileIndex,
        pipeline: Handler,
        principal_for: Callable[[str], Principal | None],
        ready: Callable[[], bool],
        clock: Clock,
        settings: RunnerSettings,
        owner: str | None = None,
        traffic: InteractiveTraffic | None = None,
    ) -> None:
        self._store, self._files, self._index = store, files, index
        self._pipeline = pipeline
        self._principal_for = principal_for
        self._ready = ready
        self._clock = clock
        self._settings = settings
        self._traffic = traffic
        self.owner = owner or new_id("replica_")
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="onshore-batches")

    async def stop(self) -> None:
        self._stopping.set()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            # The requests in flight finish and are committed within drain_s (plus a commit).
            await asyncio.wait_for(asyncio.shield(task), self._settings.drain_s + 5.0)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            ran = False
            if self._ready():
                try:
                    ran = await self.run_once()
                except Exception:
                    log.exception("running a batch failed; it is taken up again when its lease ends")
            if not ran:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self._settings.poll_interval_s)

    async def run_once(self) -> bool:
        """Claim one batch and take it as far as it goes; False when there was none to claim."""
        batch = await asyncio.to_thread(
            self._store.claim, self.owner, self._clock.now(), self._settings.lease_s
        )
        if batch is None:
            return False
        try:
            await self._advance(batch)
        finally:
            if self._stopping.is_set():  # let another replica (or this one, restarted) take it at once
                await asyncio.to_thread(self._store.release, batch.id, self.owner)
        return True

    async def _advance(self, batch: Batch) -> None:
        status: BatchStatus | None = batch.status
        if status is BatchStatus.VALIDATING:
            moved = await self._set(batch, BatchStatus.IN_PROGRESS, from_status=_FROM_VALIDATING)
            status = BatchStatus.IN_PROGRESS if moved else await self._status(batch)
        if status is BatchStatus.IN_PROGRESS and self._clock.now() < batch.expires_at:
            principal = self._principal_for(batch.key_id)
            if principal is None or principal.org_id != batch.org_id:
                await self._finish(
                    batch, BatchStatus.FAILED, errors=[error_entry("invalid_api_key", KEY_GONE)]
                )
                return
            try:
                ran = await self._run_requests(batch, principal)
            except FileNotFoundError:  # its input file was deleted meanwhile: nothing more can run
                await self._finish(batch, BatchStatus.FAILED, errors=[error_entry("file_not_found", _GONE)])
                return
            if not ran:
                return  # the lease was lost, or this replica is stopping
            status = await self._status(batch)
        if status is BatchStatus.IN_PROGRESS and self._clock.now() >= batch.expires_at:
            status = BatchStatus.EXPIRED
        if status is BatchStatus.IN_PROGRESS:
            if await self._set(batch, BatchStatus.FINALIZING, from_status=_FROM_RUNNING):
                status = BatchStatus.FINALIZING
            else:
                status = await self._status(batch)
        if status is BatchStatus.FINALIZING:
            await self._finish(batch, BatchStatus.COMPLETED)
        elif status is BatchStatus.CANCELLING:
            await self._finish(batch, BatchStatus.CANCELLED)
        elif status is BatchStatus.EXPIRED:
            await self._expire(batch)

    async def _status(self, batch: Batch) -> BatchStatus | None:
        return await asyncio.to_thread(
            self._store.renew, batch.id, self.owner, self._clock.now(), self._settings.lease_s
        )

    async def _set(
        self,
        batch: Batch,
        status: BatchStatus,
        *,
        from_status: frozenset[BatchStatus] | None = None,
        output_file_id: str | None = None,
        error_file_id: str | None = None,
        errors: list[dict[str, object]] | None = None,
    ) -> bool:
        def change() -> bool:
            return self._store.set_status(
                batch.id,
                self.owner,
                status,
                self._clock.now(),
                output_file_id=output_file_id,
                error_file_id=error_file_id,
                errors=errors,
                from_status=from_status,
            )

        return await asyncio.to_thread(change)

    # --- running the requests ---------------------------------------------------------------------

    async def _run_requests(self, batch: Batch, principal: Principal) -> bool:
        """Run what is pending; True when it ran to the end (or a cancel or the window stopped it)."""
        pending = await asyncio.to_thread(self._store.pending_lines, batch.id)
        requests = await asyncio.to_thread(self._read, batch, set(pending))
        endpoint = ENDPOINTS[batch.endpoint]
        results: asyncio.Queue[RequestResult | None] = asyncio.Queue()
        halt = asyncio.Event()  # a cancel, the window's end, a lost lease, or shutdown
        lost = asyncio.Event()
        committer = asyncio.create_task(self._commit(batch, results, lost, halt))
        keeper = asyncio.create_task(self._keep_lease(batch, halt, lost))
        slots = asyncio.Semaphore(self._settings.concurrency)
        running: set[asyncio.Task[None]] = set()

        async def one(index: int, custom_id: str, body: bytes) -> None:
            try:
                results.put_nowait(await self._call(batch, principal, endpoint, index, custom_id, body))
            finally:
                slots.release()

        for index, custom_id, body in requests:
            if not await self._place(slots, halt):
                break
            if self._traffic is not None:
                await self._make_way(self._traffic, running, halt)
            if halt.is_set() or self._stopping.is_set():
                slots.release()
                break
            task = asyncio.create_task(one(index, custom_id, body))
            running.add(task)
            task.add_done_callback(running.discard)
        if running:
            await self._settle(set(running), halt)
        results.put_nowait(None)
        await committer
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
        return not lost.is_set() and not self._stopping.is_set()

    async def _place(self, slots: asyncio.Semaphore, halt: asyncio.Event) -> bool:
        """One of the batch's ``concurrency`` places, or False once the batch halts or the replica
        stops (its requests may all be waiting behind partners', so no place may come soon)."""
        if not slots.locked():
            await slots.acquire()
            return True
        while not (halt.is_set() or self._stopping.is_set()):
            try:
                async with asyncio.timeout(_SETTLE_POLL_S):
                    await slots.acquire()
            except TimeoutError:
                continue
            return True
        return False

    async def _settle(self, running: set[asyncio.Task[None]], halt: asyncio.Event) -> None:
        """Wait for the requests in flight. Once the batch halts (a cancel, its window's end, a lost
        lease) or the replica stops, they get ``drain_s`` to finish; the rest are cancelled, not
        committed, and so run again by the next holder if the batch goes on. A request still waiting
        for a place in the fair queue's background lane may wait as long as partners keep the model
        busy, so a cancel must not wait for it."""
        while running:
            if halt.is_set() or self._stopping.is_set():
                _, late = await asyncio.wait(running, timeout=self._settings.drain_s)
                for task in late:
                    task.cancel()
                if late:
                    await asyncio.wait(late)
                return
            _, running = await asyncio.wait(running, timeout=_SETTLE_POLL_S)

    async def _make_way(
        self, traffic: InteractiveTraffic, running: set[asyncio.Task[None]], halt: asyncio.Event
    ) -> None:
        """Partners first: while their interactive requests are being served here, at most
        ``yield_concurrency`` of the batch's requests are in flight (``gateway/traffic.py`` says why).
        Measured with a 20,000-request batch at concurrency 32 and another organisation's 4 clients:
        921 batch requests/s before them, 68/s while they were served, 624/s after (shared 2-core
        machine; the interactive p50 beside the batch fell back to that of the run alone)."""
        limit, hold_s = self._settings.yield_concurrency, self._settings.yield_hold_s
        while len(running) >= limit and traffic.busy(hold_s):
            if halt.is_set() or self._stopping.is_set():
                return
            await asyncio.sleep(_YIELD_POLL_S)

    def _read(self, batch: Batch, wanted: set[int]) -> list[tuple[int, str, bytes]]:
        with self._files.open(batch.org_id, batch.input_file_id) as source:
            return list(read_requests(source, wanted))

    async def _call(
        self, batch: Batch, principal: Principal, endpoint: Endpoint, index: int, custom_id: str, body: bytes
    ) -> RequestResult:
        channel = BatchChannel(body)
        ctx = RequestContext(
            request_id=new_id("req_"),
            endpoint=endpoint,
            client=channel,
            started=self._clock.monotonic(),
            created_at=self._clock.now(),
            principal=principal,
            batch_id=batch.id,
        )
        try:
            await self._pipeline(ctx)
            status, answer = channel.status, channel.body
        except OnshoreError as exc:
            status, answer = exc.status, error_body(exc)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("a batch request failed")
            status, answer = 500, error_body(OnshoreError())
        return result_line(index, custom_id, ctx.request_id, status, answer)

    async def _commit(
        self,
        batch: Batch,
        results: asyncio.Queue[RequestResult | None],
        lost: asyncio.Event,
        halt: asyncio.Event,
    ) -> None:
        """Commit results as they come, in groups: what finished while the last commit ran goes in
        the next one (one transaction per group, not per request)."""
        ended = False
        while not ended:
            first = await results.get()
            group = [] if first is None else [first]
            ended = first is None
            while not ended and len(group) < _COMMIT_MAX and not results.empty():
                item = results.get_nowait()
                if item is None:
                    ended = True
                else:
                    group.append(item)
            if group and not lost.is_set():
                status = await asyncio.to_thread(self._store.record, batch.id, self.owner, group)
                if status is None:
                    lost.set()
                if status is not BatchStatus.IN_PROGRESS:  # cancelled (or the lease lost): stop here
                    halt.set()

    async def _keep_lease(self, batch: Batch, halt: asyncio.Event, lost: asyncio.Event) -> None:
        # Renewing also reads the status, so a cancel is seen within a poll interval.
        interval = min(self._settings.lease_s / 3, self._settings.poll_interval_s)
        while True:
            await asyncio.sleep(interval)
            status = await self._status(batch)
            if status is None:
                lost.set()
                halt.set()
            elif status is not BatchStatus.IN_PROGRESS or self._clock.now() >= batch.expires_at:
                halt.set()

    # --- the end of a batch -----------------------------------------------------------------------

    async def _expire(self, batch: Batch) -> None:
        """Past the window: what never ran goes to the error file, as OpenAI does."""
        pending = await asyncio.to_thread(self._store.pending_lines, batch.id)
        if pending:
            requests = await asyncio.to_thread(self._read, batch, set(pending))
            error: dict[str, object] = {
                "code": "batch_expired",
                "message": EXPIRED,
            }
            expired = [
                RequestResult(index, True, output_line(custom_id, None, error))
                for index, custom_id, _ in requests
            ]
            await asyncio.to_thread(self._store.record, batch.id, self.owner, expired)
        await self._finish(batch, BatchStatus.EXPIRED)

    async def _finish(
        self, batch: Batch, status: BatchStatus, errors: list[dict[str, object]] | None = None
    ) -> None:
        output = await asyncio.to_thread(self._write_file, batch, failed=False)
        failures = await asyncio.to_thread(self._write_file, batch, failed=True)
        await self._set(batch, status, output_file_id=output, error_file_id=failures, errors=errors)

    def _write_file(self, batch: Batch, *, failed: bool) -> str | None:
        lines = iter(self._store.results(batch.id, failed=failed))
        first = next(lines, None)
        if first is None:
            return None
        file_id = new_id("file-")
        size = self._files.write_lines(batch.org_id, file_id, chain(first, lines))
        now = self._clock.now()
        retention = self._settings.output_retention_s
        self._index.add(
            StoredFile(
                id=file_id,
                org_id=batch.org_id,
                purpose=FILE_PURPOSE_BATCH_OUTPUT,
                filename=f"{batch.id}_{'error' if failed else 'output'}.jsonl",
                bytes=size,
                created_at=now,
                expires_at=None if retention is None else now + timedelta(seconds=retention),
            )
        )
        return file_id
