"""Continuous batching over one llama.cpp context: ``parallel`` sequences share every decode step.

One worker thread owns the context. Each step it admits queued jobs into free slots, builds one
``llama_batch`` holding the next token of every generating sequence plus a chunk of pending prompt
tokens, decodes it, and samples one token per sequence with that sequence's own sampler chain
(temperature, top-p, seeded RNG). Tokens leave as events on the job's asyncio queue. A job whose
client went away is marked ``cancelled`` from the event loop; the worker drops it at the next step
and frees its KV cells, so the slot is free for the next request.

Why one batched context rather than one context per request: all sequences advance on every step,
so a request arriving behind three long ones starts streaming at once instead of waiting, and one
KV cache and one set of weights serve them all. On a 2-core CPU with the 135M SmolLM2, the aggregate
tokens/s of 4 sequences was about that of one (decode there is compute-bound; see
benchmarks/embedded_bench.py); on larger, memory-bound models batching should raise it (not measured here).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from dataclasses import dataclass, field
from typing import Any

import llama_cpp

from onshore.backends.llamacpp.model import LoadedModel
from onshore.backends.llamacpp.params import Sampling
from onshore.backends.llamacpp.text import TextStream
from onshore.errors import BackendUnavailable, OnshoreError

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Delta:
    text: str


@dataclass(frozen=True, slots=True)
class Done:
    finish_reason: str  # "stop" or "length"
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True, slots=True)
class Failed:
    error: OnshoreError


Event = Delta | Done | Failed


@dataclass(slots=True)
class Job:
    """One generation; created on the event loop, run by the worker."""

    prompt: list[int]
    sampling: Sampling
    max_tokens: int
    loop: asyncio.AbstractEventLoop
    events: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)
    cancelled: bool = False  # set by the event loop; read by the worker (a plain bool is atomic)

    def emit(self, event: Event) -> None:
        try:
            self.loop.call_soon_threadsafe(self.events.put_nowait, event)
        except RuntimeError:  # the loop is gone: nobody is listening any more
            self.cancelled = True


@dataclass(slots=True)
class _Slot:
    seq_id: int
    job: Job | None = None
    sampler: Any = None
    pending: list[int] = field(default_factory=list)  # prompt tokens not decoded yet
    last: int | None = None  # the sampled token to feed next
    position: int = 0
    generated: int = 0
    text: TextStream | None = None
    batch_index: int = -1


class Engine:
    """Owns the worker thread and the slots; ``submit`` is called from the event loop."""

    def __init__(self, model: LoadedModel, max_queue: int, name: str) -> None:
        self._model = model
        self._capacity = model.parallel + max_queue
        self._inbox: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._in_flight = 0  # queued + generating, guarded by _lock
        self._slots = [_Slot(seq_id=i) for i in range(model.parallel)]
        self._stopping = False
        self._thread = threading.Thread(target=self._work, name=f"onshore-llama-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    def submit(self, job: Job) -> None:
        """Queue the job, or raise BackendUnavailable when ``parallel + max_queue`` are already taken."""
        with self._lock:
            if self._in_flight >= self._capacity or self._stopping:
                raise BackendUnavailable("The model is busy; retry shortly.", code="model_overloaded")
            self._in_flight += 1
        self._inbox.put(job)

    def close(self) -> None:
        """Stop the worker (jobs still running end with an error event); blocks until it has."""
        with self._lock:
            self._stopping = True
        if self._thread.is_alive():
            self._inbox.put(None)
            self._thread.join()

    # --- the worker thread -------------------------------------------------------------------------

    def _work(self) -> None:
        batch = llama_cpp.llama_batch_init(self._model.n_batch, 0, 1)
        try:
            while self._admit():
                try:
                    self._step(batch)
                except Exception:  # a bug must fail the requests in hand, not strand every later one
                    _log.exception("llama.cpp engine step failed")
                    for slot in self._slots:
                        if slot.job is not None:
                            self._finish(slot, error=OnshoreError())
        finally:
            for slot in self._slots:
                if slot.job is not None:
                    self._finish(slot, error=BackendUnavailable("The model was stopped."))
            self._fail_queued()
            llama_cpp.llama_batch_free(batch)

    def _admit(self) -> bool:
        """Fill free slots from the inbox; wait when idle. False once the engine must stop."""
        for slot in self._slots:
            if slot.job is not None and slot.job.cancelled:
                self._finish(slot, finish_reason=None)
        idle = all(slot.job is None for slot in self._slots)
        for slot in self._slots:
            if slot.job is not None:
                continue
            try:
                job = self._inbox.get() if idle else self._inbox.get_nowait()
            except queue.Empty:
                break
            idle = False
            if job is None:
                return False
            if job.cancelled:
                self._release()
                continue
            self._assign(slot, job)
        return True

    def _assign(self, slot: _Slot, job: Job) -> None:
        slot.job = job
        slot.pending = list(job.prompt)
        slot.last = None
        slot.position = 0
        slot.generated = 0
        slot.text = TextStream(job.sampling.stops)
        slot.sampler = _sampler(job.sampling)

    def _step(self, batch: Any) -> None:
        active = [slot for slot in self._slots if slot.job is not None]
        if not active:
            return
        count = 0
        for slot in active:  # generating sequences first: one token each
            slot.batch_index = -1
            if slot.last is not None:
                count = self._add(batch, count, slot, slot.last, logits=True)
        for slot in active:  # then as much pending prompt as the batch holds
            if slot.last is None and slot.pending and count < self._model.n_batch:
                take = slot.pending[: self._model.n_batch - count]
                slot.pending = slot.pending[len(take) :]
                for offset, token in enumerate(take):
                    last = not slot.pending and offset == len(take) - 1
                    count = self._add(batch, count, slot, token, logits=last)
        batch.n_tokens = count
        status = llama_cpp.llama_decode(self._model.context, batch)
        if status != 0:
            _log.error("llama_decode failed with status %d for %d sequences", status, len(active))
            for slot in active:
                self._finish(slot, error=OnshoreError())
            return
        for slot in active:
            if slot.batch_index >= 0:
                self._sample(slot)

    def _add(self, batch: Any, index: int, slot: _Slot, token: int, *, logits: bool) -> int:
        batch.token[index] = token
        batch.pos[index] = slot.position
        batch.n_seq_id[index] = 1
        batch.seq_id[index][0] = slot.seq_id
        batch.logits[index] = logits
        slot.position += 1
        if logits:
            slot.batch_index = index
        return index + 1

    def _sample(self, slot: _Slot) -> None:
        job, text = slot.job, slot.text
        assert job is not None
        assert text is not None
        token = int(llama_cpp.llama_sampler_sample(slot.sampler, self._model.context, slot.batch_index))
        slot.generated += 1
        slot.last = token
        if self._model.is_end(token):
            self._finish(slot, finish_reason="stop")
            return
        delta = text.feed(self._model.piece_bytes(token))
        if delta:
            job.emit(Delta(delta))
        if text.stopped:
            self._finish(slot, finish_reason="stop")
        elif slot.generated >= job.max_tokens or slot.position >= self._model.n_ctx_seq:
            self._finish(slot, finish_reason="length")

    def _finish(
        self, slot: _Slot, *, finish_reason: str | None = None, error: OnshoreError | None = None
    ) -> None:
        """End the slot's job (``finish_reason`` None: the client left) and free the sequence."""
        job = slot.job
        assert job is not None
        if error is not None:
            job.emit(Failed(error))
        elif finish_reason is not None and not job.cancelled:
            rest = slot.text.flush() if slot.text is not None else ""
            if rest:
                job.emit(Delta(rest))
            job.emit(Done(finish_reason, len(job.prompt), slot.generated))
        self._model.forget(slot.seq_id)
        if slot.sampler is not None:
            llama_cpp.llama_sampler_free(slot.sampler)
        slot.job, slot.sampler, slot.text, slot.last, slot.pending = None, None, None, None, []
        self._release()

    def _release(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _fail_queued(self) -> None:
        while True:
            try:
                job = self._inbox.get_nowait()
            except queue.Empty:
                return
            if job is not None:
                job.emit(Failed(BackendUnavailable("The model was stopped.")))
                self._release()


def _sampler(sampling: Sampling) -> Any:
    chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
    if sampling.temperature == 0.0:
        llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_greedy())
        return chain
    if sampling.top_p < 1.0:
        llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_top_p(sampling.top_p, 1))
    llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_temp(sampling.temperature))
    llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_dist(sampling.seed))
    return chain
