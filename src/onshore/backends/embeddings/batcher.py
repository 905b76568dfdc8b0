"""A micro-batcher: one worker thread embeds the inputs of all requests that queued up meanwhile.

Requests never wait for a timer. The worker takes the first queued request, then everything else
already queued (up to ``max_batch`` rows), tokenises, sorts the rows by length so padding stays small,
runs the model in chunks of ``max_batch`` rows and renders each response body, all off the event
loop. While it works, new requests queue and form the next batch, so the batch size follows the load.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from dataclasses import dataclass, field

import numpy as np

from onshore.backends.embeddings.encoder import Encoder
from onshore.backends.embeddings.inputs import EmbeddingsRequest
from onshore.backends.embeddings.response import render
from onshore.backends.embeddings.windows import Framed
from onshore.errors import InvalidRequest, OnshoreError

_log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Job:
    request: EmbeddingsRequest
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[bytes]
    framed: Framed = field(default_factory=lambda: Framed([], [], 0))
    vectors: np.ndarray | None = None


class MicroBatcher:
    """Owns the worker thread; ``embed`` is called from the event loop."""

    def __init__(self, model: Encoder, max_batch: int, name: str) -> None:
        self._model = model
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name=f"onshore-embeddings-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    async def embed(self, request: EmbeddingsRequest) -> bytes:
        """The response body for this request (raises InvalidRequest for an over-long input)."""
        loop = asyncio.get_running_loop()
        job = _Job(request=request, loop=loop, future=loop.create_future())
        self._queue.put(job)
        return await job.future

    def close(self) -> None:
        """Stop the worker after the jobs already queued; blocks until it has finished."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    # --- the worker thread -------------------------------------------------------------------------

    def _work(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            jobs, stopping = self._drain(first)
            try:
                self._run(jobs)
            except Exception as exc:  # the thread must survive any model failure
                _log.exception("embeddings batch failed")
                for job in jobs:
                    _settle(job, error=OnshoreError())
                del exc

    def _drain(self, first: _Job) -> tuple[list[_Job], bool]:
        jobs, rows = [first], len(first.request)
        while rows < self._max_batch:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                return jobs, True
            jobs.append(job)
            rows += len(job.request)
        return jobs, False

    def _run(self, jobs: list[_Job]) -> None:
        ready: list[_Job] = []
        for job in jobs:
            if job.future.cancelled():
                continue
            try:
                request = job.request
                if request.texts is not None:
                    job.framed = self._model.tokenize(request.texts)
                else:
                    job.framed = self._model.wrap_ids(request.token_ids or [])
            except InvalidRequest as exc:
                _settle(job, error=exc)
                continue
            job.vectors = np.empty((len(job.framed.rows), self._model.dimensions), dtype=np.float32)
            ready.append(job)
        order = sorted(
            ((len(row), j, i) for j, job in enumerate(ready) for i, row in enumerate(job.framed.rows)),
        )
        for start in range(0, len(order), self._max_batch):
            chunk = order[start : start + self._max_batch]
            vectors = self._model.run([ready[j].framed.rows[i] for _, j, i in chunk])
            for (_, j, i), vector in zip(chunk, vectors, strict=True):
                vectors_of_job = ready[j].vectors
                assert vectors_of_job is not None
                vectors_of_job[i] = vector
        for job in ready:
            assert job.vectors is not None
            body = render(
                job.framed.pool(job.vectors),  # split inputs: their windows pooled into one vector
                model=job.request.model,
                encoding=job.request.encoding,
                prompt_tokens=job.framed.tokens,
            )
            _settle(job, body=body)


def _settle(job: _Job, *, body: bytes | None = None, error: BaseException | None = None) -> None:
    def settle() -> None:
        if job.future.done():  # the caller went away
            return
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(body or b"")

    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
        job.loop.call_soon_threadsafe(settle)
