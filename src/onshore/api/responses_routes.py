"""Stored Responses API answers: ``GET``/``DELETE /v1/responses/{id}`` and its ``input_items``.

``POST /v1/responses`` is an inference and goes through the pipeline (``openai_routes.inference``).
A response is looked up together with the caller's organisation: another organisation's response
answers 404 exactly like an unknown id, so ids cannot be probed.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs

from onshore.api.http import Exchange
from onshore.api.openai_routes import principal_of
from onshore.errors import InvalidRequest, MethodNotAllowed, NotFound
from onshore.gateway.policy import echo
from onshore.ports import StoredResponse
from onshore.services import Services

PREFIX = "/v1/responses/"
_MAX_PAGE = 100


async def dispatch(services: Services, exchange: Exchange) -> None:
    path: str = exchange.scope["path"]
    method: str = exchange.scope["method"]
    rest = path[len(PREFIX) :]
    response_id, _, tail = rest.partition("/")
    if not response_id or tail not in ("", "input_items"):
        raise NotFound(f"Unknown path {path[:200]!r}.", code="unknown_url")
    allowed = ("GET", "DELETE") if not tail else ("GET",)
    if method not in allowed:
        error = MethodNotAllowed(f"Method {method} is not allowed here; use {' or '.join(allowed)}.")
        error.headers = ((b"allow", ", ".join(allowed).encode()),)
        raise error
    principal = await principal_of(services, exchange.headers)
    store = services.responses
    now = services.clock.now()
    if method == "DELETE":
        org = principal.org_id
        if store is None or not await asyncio.to_thread(store.delete, org, response_id, now):
            raise _not_found(response_id)
        await exchange.reply_json(200, {"id": response_id, "object": "response.deleted", "deleted": True})
        return
    found = None if store is None else await asyncio.to_thread(store.get, principal.org_id, response_id, now)
    if found is None:
        raise _not_found(response_id)
    if tail:
        await exchange.reply_json(200, _items_page(found, _query(exchange)))
    else:
        await exchange.reply_json(200, found.body)


def _not_found(response_id: str) -> NotFound:
    return NotFound(f"Response with id '{echo(response_id)}' not found.", code="not_found")


def _query(exchange: Exchange) -> dict[str, str]:
    raw = exchange.scope.get("query_string", b"").decode("latin-1")
    return {key: values[-1] for key, values in parse_qs(raw).items()}


def _items_page(found: StoredResponse, query: dict[str, str]) -> dict[str, Any]:
    """One page of the input items as OpenAI's cursor list (``order`` desc by default)."""
    try:
        limit = int(query.get("limit", "20"))
    except ValueError:
        raise InvalidRequest("'limit' must be an integer.", param="limit") from None
    if not 1 <= limit <= _MAX_PAGE:
        raise InvalidRequest(f"'limit' must be between 1 and {_MAX_PAGE}.", param="limit")
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise InvalidRequest("'order' must be asc or desc.", param="order")
    items = found.input_items if order == "asc" else list(reversed(found.input_items))
    after = query.get("after")
    if after is not None:
        ids = [item.get("id") for item in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    page = items[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0].get("id") if page else None,
        "last_id": page[-1].get("id") if page else None,
        "has_more": len(items) > limit,
    }
