"""The reply of one generation: events from the engine, rendered as OpenAI JSON or SSE bytes.

Leaving early (not iterating ``chunks()`` to the end, cancelling the task that reads, or calling
``aclose``) marks the job cancelled; the engine then stops generating it and frees its slot.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from types import MappingProxyType

from onshore.backends.llamacpp.engine import Delta, Done, Event, Failed, Job
from onshore.backends.llamacpp.wire import DONE, Renderer
from onshore.errors import error_event


class GenerationReply:
    """Implements ``onshore.ports.BackendReply`` over a running job."""

    status = 200
    headers: Mapping[str, str] = MappingProxyType({})

    def __init__(self, job: Job, renderer: Renderer) -> None:
        self._job = job
        self._renderer = renderer
        self._finished = False

    async def _next(self) -> Event:
        event = await self._job.events.get()
        if isinstance(event, Done | Failed):
            self._finished = True
        return event

    async def read(self) -> bytes:
        """The whole non-streaming body; raises the engine's error if generation failed."""
        parts: list[str] = []
        try:
            while True:
                event = await self._next()
                if isinstance(event, Delta):
                    parts.append(event.text)
                elif isinstance(event, Failed):
                    raise event.error
                else:
                    text = "".join(parts)
                    return self._renderer.full(
                        text, event.finish_reason, event.prompt_tokens, event.completion_tokens
                    )
        finally:
            await self.aclose()

    async def chunks(self) -> AsyncIterator[bytes]:
        """SSE events, one per token delta; stopping early cancels the generation."""
        try:
            opening = self._renderer.opening()
            if opening is not None:
                yield opening
            while True:
                event = await self._next()
                if isinstance(event, Delta):
                    yield self._renderer.delta(event.text)
                elif isinstance(event, Failed):
                    error = event.error
                    yield error_event(error)
                    return
                else:
                    yield self._renderer.finish(event.finish_reason)
                    usage = self._renderer.usage(event.prompt_tokens, event.completion_tokens)
                    if usage is not None:
                        yield usage
                    yield DONE
                    return
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        if not self._finished:
            self._job.cancelled = True
            self._finished = True
