"""The Responses API as a chat completion: translated once after the body is read, so every later
step (access, sovereignty, admission, routing, dispatch) runs exactly as for chat completions.

The answer is translated back by the last transformer (``gateway/responses_reply.py``). With
``store`` (the default, as OpenAI's), the response and its input are saved before the partner
receives the end of the answer, so a ``GET`` right after it finds them; with personal data redacted
(the request's placeholders) when the organisation's policy redacts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Any

import orjson

from onshore.domain.catalog import Endpoint
from onshore.errors import InvalidRequest, NotFound
from onshore.gateway.chain import Handler
from onshore.gateway.context import RequestContext
from onshore.gateway.policy import echo
from onshore.gateway.request_body import ParsedBody
from onshore.gateway.responses_reply import ResponsesExchange, new_id
from onshore.gateway.responses_request import input_items, to_chat
from onshore.ports import ClientChannel, Clock, ResponseStore, StoredResponse, StoreError

log = logging.getLogger(__name__)
_ITEM_PREFIX = {"message": "msg", "function_call": "fc", "function_call_output": "fco", "reasoning": "rs"}


class ResponsesAdapter:
    __slots__ = ("_clock", "_native", "_retention", "_store")

    def __init__(
        self,
        store: ResponseStore | None,
        clock: Clock,
        retention: timedelta,
        native: frozenset[str] = frozenset(),
    ) -> None:
        self._store = store
        self._clock = clock
        self._retention = retention
        self._native = native  # public models whose engines serve /v1/responses (all agree: settings)

    async def __call__(self, ctx: RequestContext, call_next: Handler) -> None:
        body = ctx.body
        if ctx.endpoint is not Endpoint.RESPONSES or body is None:
            await call_next(ctx)
            return
        if body.model in self._native:
            await self._pass_through(ctx, body, call_next)
            return
        payload = body.payload
        history = await self._history(ctx, payload.get("previous_response_id"))
        items = [_with_id(item) for item in input_items(payload)]
        chat = to_chat(payload, history + items, stream=body.stream)
        ctx.body = ParsedBody(chat, body.model, body.stream, include_usage=True, raw=orjson.dumps(chat))
        ctx.facade, ctx.endpoint = Endpoint.RESPONSES, Endpoint.CHAT
        store = payload.get("store", True) is not False and self._store is not None
        state = ResponsesExchange(
            new_id("resp"), int(ctx.created_at.timestamp()), payload, history + items, store
        )
        ctx.responses = state
        if store:
            ctx.client = _Storing(ctx.client, lambda: self._save(ctx, state))
        await call_next(ctx)

    async def _pass_through(self, ctx: RequestContext, body: ParsedBody, call_next: Handler) -> None:
        """The body goes to the engine's /v1/responses as sent (the model renamed, as for chat).

        A ``previous_response_id`` goes on untouched (the engine keeps its own state), once it is
        known to be this organisation's: the engine's ids are shared by every organisation on it,
        so one that Onshore did not store for the caller is 404 here and never reaches the engine.
        """
        payload = body.payload
        await self._history(ctx, payload.get("previous_response_id"))
        body.include_usage = True  # a Responses stream always ends with its usage: nothing to ask
        store = payload.get("store", True) is not False and self._store is not None
        state = ResponsesExchange("", int(ctx.created_at.timestamp()), payload, [], store, native=True)
        ctx.responses = state
        if store:
            ctx.client = _Storing(ctx.client, lambda: self._save(ctx, state))
        await call_next(ctx)

    async def _history(self, ctx: RequestContext, previous: object) -> list[dict[str, Any]]:
        """The previous response's input and output, in order, to go before this request's input."""
        if previous is None:
            return []
        if not isinstance(previous, str) or not previous:
            raise InvalidRequest("'previous_response_id' must be a string.", param="previous_response_id")
        principal = ctx.principal
        found = None
        if self._store is not None and principal is not None:
            found = await asyncio.to_thread(self._store.get, principal.org_id, previous, self._clock.now())
        if found is None:
            raise NotFound(
                f"Previous response with id '{echo(previous)}' not found.", param="previous_response_id"
            )
        return [*found.input_items, *found.body.get("output", ())]

    async def _save(self, ctx: RequestContext, state: ResponsesExchange) -> None:
        final, principal = state.final, ctx.principal
        if final is None or principal is None or self._store is None:
            return
        body, items = final, state.items
        response_id = state.id or str(final.get("id") or "")
        if state.native:  # the input as the engine received it (redacted in place, if at all)
            value = state.request.get("input")
            raw = [{"type": "message", "role": "user", "content": value}] if isinstance(value, str) else value
            items = [_with_id(i) for i in raw if isinstance(i, dict)] if isinstance(raw, list) else []
            body = {**final, "model": ctx.model or final.get("model")}
        if ctx.placeholders:  # the organisation redacts: keep the redacted form, never the original
            body, items = _redacted(body, ctx.placeholders), _redacted(items, ctx.placeholders)
        stored = StoredResponse(
            id=response_id,
            org_id=principal.org_id,
            created_at=ctx.created_at,
            expires_at=ctx.created_at + self._retention,
            model=ctx.model or "",
            body=body,
            input_items=items,
        )
        try:
            await asyncio.to_thread(self._store.save, stored)
        except StoreError:
            # The partner still gets its answer; a later GET of this id answers 404.
            log.warning("a response could not be stored", extra={"response_id": response_id})


def _with_id(item: dict[str, Any]) -> dict[str, Any]:
    if isinstance(item.get("id"), str):
        return item
    kind = item.get("type", "message")
    stored = {"id": new_id(_ITEM_PREFIX.get(kind, "item")), **item}
    stored.setdefault("type", kind)
    return stored


def _redacted(value: Any, placeholders: dict[str, str]) -> Any:
    """``value`` with every original the request's redaction replaced put back as its placeholder."""
    text = orjson.dumps(value).decode()
    for placeholder, original in placeholders.items():
        text = text.replace(orjson.dumps(original).decode()[1:-1], placeholder)
    return orjson.loads(text)


class _Storing:
    """The client channel, saving the response just before the partner receives its end."""

    __slots__ = ("_inner", "_save")

    def __init__(self, inner: ClientChannel, save: Callable[[], Awaitable[None]]) -> None:
        self._inner = inner
        self._save = save

    @property
    def started(self) -> bool:
        return self._inner.started

    @property
    def gone(self) -> bool:
        return self._inner.gone

    @property
    def extra_headers(self) -> tuple[tuple[bytes, bytes], ...]:
        return self._inner.extra_headers

    def header(self, name: bytes) -> bytes | None:
        return self._inner.header(name)

    async def read_body(self, limit: int) -> bytes:
        return await self._inner.read_body(limit)

    def cancel_on_disconnect(self) -> AbstractAsyncContextManager[None]:
        return self._inner.cancel_on_disconnect()

    def add_headers(self, headers: Sequence[tuple[bytes, bytes]]) -> None:
        self._inner.add_headers(headers)

    async def send_complete(self, status: int, body: bytes) -> None:
        if status == 200:
            await self._save()
        await self._inner.send_complete(status, body)

    async def start_stream(self) -> None:
        await self._inner.start_stream()

    async def send_chunk(self, chunk: bytes) -> None:
        await self._inner.send_chunk(chunk)

    async def end_stream(self) -> None:
        await self._save()  # reports its own failures: the stream ends either way
        await self._inner.end_stream()
