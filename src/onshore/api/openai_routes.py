"""The partner-facing OpenAI-compatible endpoints."""

from __future__ import annotations

import logging
import time

from onshore.api.client import AsgiClient
from onshore.api.http import Exchange
from onshore.domain.catalog import Endpoint
from onshore.domain.tenancy import Principal
from onshore.errors import ClientClosed, ModelNotFound, OnshoreError
from onshore.gateway.context import RequestContext
from onshore.gateway.policy import echo, visible_models
from onshore.services import Services

_CREATED = int(time.time())
log = logging.getLogger("onshore.api")


async def inference(services: Services, endpoint: Endpoint, exchange: Exchange) -> None:
    """Serve chat, completions or embeddings through the pipeline; its steps meter every outcome."""
    client = AsgiClient(exchange)
    ctx = RequestContext(
        request_id=exchange.request_id,
        endpoint=endpoint,
        client=client,
        started=services.clock.monotonic(),
        created_at=services.clock.now(),
        client_request_id=exchange.client_request_id,
    )
    try:
        await services.pipeline(ctx)
    except ClientClosed:
        return  # there is no one left to tell
    except OnshoreError as exc:
        if not client.started:
            if client.extra_headers:  # the rate-limit headers go with a refusal too, as OpenAI's do
                exc.headers = (*exc.headers, *client.extra_headers)
            raise  # the app answers it in OpenAI's shape
        await client.end_stream()  # the stream already carries the error event
    except Exception:
        if not client.started:
            raise
        # The response has started, so no status can be sent any more: log it, end the stream.
        log.exception("stream failed after it started")
        await client.end_stream()


def _model_object(name: str) -> dict[str, object]:
    return {"id": name, "object": "model", "created": _CREATED, "owned_by": "onshore"}


async def list_models(services: Services, exchange: Exchange) -> None:
    principal = await principal_of(services, exchange.headers)
    data = [
        _model_object(m) for m in visible_models(principal, services.router, _allowed(services, principal))
    ]
    await exchange.reply_json(200, {"object": "list", "data": data})


async def get_model(services: Services, model: str, exchange: Exchange) -> None:
    principal = await principal_of(services, exchange.headers)
    if model not in visible_models(principal, services.router, _allowed(services, principal)):
        raise ModelNotFound(f"The model '{echo(model)}' does not exist.", param="model")
    await exchange.reply_json(200, _model_object(model))


def _allowed(services: Services, principal: Principal) -> frozenset[str] | None:
    """Where this key's requests may be served: a model only served elsewhere is not listed."""
    book = services.limit_book
    return None if book is None else book.policy(principal.org_id, principal.key_id).jurisdictions


async def principal_of(services: Services, headers: dict[bytes, bytes]) -> Principal:
    authorization = headers.get(b"authorization")
    return await services.authenticator.authenticate(
        authorization.decode("latin-1") if authorization is not None else None
    )
