"""The partner-facing OpenAI-compatible endpoints."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from onshore.api.http import SSE_HEADERS, ClientGone, Exchange, send_bytes
from onshore.api.types import Receive, Send
from onshore.bootstrap import Services
from onshore.domain.catalog import Endpoint
from onshore.domain.tenancy import Principal
from onshore.errors import ModelNotFound, OnshoreError
from onshore.gateway.context import RequestContext
from onshore.gateway.pipeline import CLIENT_CLOSED, Complete, Streaming
from onshore.gateway.policy import visible_models

_CREATED = int(time.time())
log = logging.getLogger("onshore.api")


async def inference(services: Services, endpoint: Endpoint, exchange: Exchange) -> None:
    """Serve chat, completions or embeddings; every outcome is metered, failures included."""
    gateway = services.gateway
    receive, send, request_id = exchange.receive, exchange.send, exchange.request_id
    ctx = RequestContext(request_id, endpoint)
    try:
        authorization = exchange.headers.get(b"authorization")
        ctx.principal = await gateway.authenticator.authenticate(
            authorization.decode("latin-1") if authorization is not None else None
        )
        raw = await exchange.body(services.settings.server.max_body_bytes)
        result = await _until_disconnect(gateway.handle(ctx, raw), receive)
        if isinstance(result, Complete):
            await send_bytes(send, result.status, result.body, request_id)
        else:
            await _stream(result, receive, send, request_id)
    except ClientGone:
        ctx.status = CLIENT_CLOSED
        ctx.error_code = "client_closed"
    except StreamBroken as exc:
        ctx.status, ctx.error_code = 500, "internal_error"
        log.error("stream failed after it started", exc_info=exc.__cause__)
    except OnshoreError as exc:
        ctx.status, ctx.error_code = exc.status, exc.code
        raise
    except BaseException:
        ctx.status, ctx.error_code = 500, "internal_error"
        raise
    finally:
        gateway.meter.record(ctx)


async def _until_disconnect(
    work: Coroutine[Any, Any, Complete | Streaming], receive: Receive
) -> Complete | Streaming:
    """Run the upstream call in this task, cancelling it if the client goes away first.

    One watcher task per request rather than racing two tasks: this is on every request's path.
    """
    current = asyncio.current_task()
    assert current is not None
    gone = False
    working = True

    async def watch() -> None:
        nonlocal gone
        await _wait_disconnect(receive)
        if working:  # never cancel the handler once the work is done and it is answering
            gone = True
            current.cancel()

    watcher = asyncio.get_running_loop().create_task(watch())
    try:
        result = await work
        working = False
        return result
    except asyncio.CancelledError:
        if gone:
            current.uncancel()
            raise ClientGone from None
        raise
    finally:
        watcher.cancel()


async def _wait_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def _stream(result: Streaming, receive: Receive, send: Send, request_id: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [*SSE_HEADERS, (b"x-request-id", request_id.encode())],
        }
    )
    pump = asyncio.ensure_future(_pump(result.events, send))
    watcher = asyncio.ensure_future(_wait_disconnect(receive))
    try:
        await asyncio.wait((pump, watcher), return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not pump.done():
            pump.cancel()  # the client left: stop reading the upstream, which closes it
        with contextlib.suppress(asyncio.CancelledError):
            await pump
    if pump.cancelled():
        raise ClientGone
    failure = pump.exception()
    if failure is None:
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    if isinstance(failure, OSError):  # the server could not write: the client is gone
        raise ClientGone
    # The response has started, so no status can be sent any more: log it, end the stream.
    raise StreamBroken from failure


class StreamBroken(Exception):
    """A bug after the response started; the server closes the connection."""


async def _pump(events: AsyncIterator[bytes], send: Send) -> None:
    try:
        async for chunk in events:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()


def _model_object(name: str) -> dict[str, object]:
    return {"id": name, "object": "model", "created": _CREATED, "owned_by": "onshore"}


async def list_models(services: Services, exchange: Exchange) -> None:
    principal = await _principal(services, exchange.headers)
    data = [_model_object(m) for m in visible_models(principal, services.router)]
    await exchange.reply_json(200, {"object": "list", "data": data})


async def get_model(services: Services, model: str, exchange: Exchange) -> None:
    principal = await _principal(services, exchange.headers)
    if model not in visible_models(principal, services.router):
        raise ModelNotFound(f"The model '{model}' does not exist.", param="model")
    await exchange.reply_json(200, _model_object(model))


async def _principal(services: Services, headers: dict[bytes, bytes]) -> Principal:
    authorization = headers.get(b"authorization")
    return await services.gateway.authenticator.authenticate(
        authorization.decode("latin-1") if authorization is not None else None
    )
