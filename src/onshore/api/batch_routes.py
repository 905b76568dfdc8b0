"""``/v1/files`` and ``/v1/batches``: the Batch API in the shapes the OpenAI SDKs send and parse."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

import orjson

from onshore.api.http import Exchange
from onshore.api.multipart import parse_form
from onshore.domain.batches import Batch, StoredFile
from onshore.domain.tenancy import Principal
from onshore.errors import InvalidRequest, MethodNotAllowed, NotFound
from onshore.gateway.batches import BatchService
from onshore.services import Services

FILES = "/v1/files"
BATCHES = "/v1/batches"
_JSON_LIMIT = 64 * 1024
_FORM_SLACK = 64 * 1024  # the multipart framing and the small fields around the file


async def dispatch(services: Services, exchange: Exchange) -> None:
    path: str = exchange.scope["path"]
    method: str = exchange.scope["method"]
    service = services.batches
    if service is None:
        raise NotFound(f"Unknown path {path[:200]!r}.", code="unknown_url")
    authorization = exchange.headers.get(b"authorization")
    principal = await services.authenticator.authenticate(
        authorization.decode("latin-1") if authorization is not None else None
    )
    parts = path.rstrip("/").split("/")[2:]  # ["files", id?, "content"?] or ["batches", id?, "cancel"?]
    if parts[0] == "files":
        await _files(service, principal, method, parts[1:], exchange)
    else:
        await _batches(service, principal, method, parts[1:], exchange)


async def _files(
    service: BatchService, principal: Principal, method: str, rest: list[str], exchange: Exchange
) -> None:
    org = principal.org_id
    if not rest:
        if method == "POST":
            body = await exchange.body(service.max_file_bytes + _FORM_SLACK)
            form = parse_form(exchange.headers.get(b"content-type"), body)
            if form.file is None:
                raise InvalidRequest("The 'file' part is required.", param="file")
            stored = await service.upload(
                org, form.fields.get("purpose", ""), form.filename, io.BytesIO(form.file)
            )
            await exchange.reply_json(200, file_object(stored))
            return
        _allow(method, "GET", "POST")
        query = _query(exchange)
        limit = _limit(query, 10_000)
        order = query.get("order", "desc")
        found = await service.files(
            org,
            purpose=query.get("purpose"),
            after=query.get("after"),
            limit=limit + 1,
            newest_first=order != "asc",
        )
        await exchange.reply_json(200, _page([file_object(f) for f in found], limit))
        return
    file_id = rest[0]
    if len(rest) == 1:
        if method == "DELETE":
            await service.delete_file(org, file_id)
            await exchange.reply_json(200, {"id": file_id, "object": "file", "deleted": True})
            return
        _allow(method, "GET", "DELETE")
        await exchange.reply_json(200, file_object(await service.file(org, file_id)))
    elif len(rest) == 2 and rest[1] == "content":
        _allow(method, "GET")
        await exchange.reply(200, await service.content(org, file_id), b"application/jsonl")
    else:
        raise NotFound(f"Unknown path {exchange.scope['path'][:200]!r}.", code="unknown_url")


async def _batches(
    service: BatchService, principal: Principal, method: str, rest: list[str], exchange: Exchange
) -> None:
    org = principal.org_id
    if not rest:
        if method == "POST":
            request = _json(await exchange.body(_JSON_LIMIT))
            batch = await service.create(
                principal,
                input_file_id=request.get("input_file_id"),
                endpoint=request.get("endpoint"),
                completion_window=request.get("completion_window"),
                metadata=request.get("metadata"),
            )
            await exchange.reply_json(200, batch_object(batch))
            return
        _allow(method, "GET", "POST")
        query = _query(exchange)
        limit = _limit(query, 100)
        found = await service.batches(org, after=query.get("after"), limit=limit + 1)
        await exchange.reply_json(200, _page([batch_object(b) for b in found], limit))
    elif len(rest) == 1:
        _allow(method, "GET")
        await exchange.reply_json(200, batch_object(await service.batch(org, rest[0])))
    elif len(rest) == 2 and rest[1] == "cancel":
        _allow(method, "POST")
        await exchange.reply_json(200, batch_object(await service.cancel(org, rest[0])))
    else:
        raise NotFound(f"Unknown path {exchange.scope['path'][:200]!r}.", code="unknown_url")


def file_object(stored: StoredFile) -> dict[str, Any]:
    return {
        "id": stored.id,
        "object": "file",
        "bytes": stored.bytes,
        "created_at": _ts(stored.created_at),
        "expires_at": None if stored.expires_at is None else _ts(stored.expires_at),
        "filename": stored.filename,
        "purpose": stored.purpose,
        "status": "processed",
        "status_details": None,
    }


def batch_object(batch: Batch) -> dict[str, Any]:
    moments = batch.moments
    return {
        "id": batch.id,
        "object": "batch",
        "endpoint": batch.endpoint,
        "errors": None if not batch.errors else {"object": "list", "data": batch.errors},
        "input_file_id": batch.input_file_id,
        "completion_window": batch.completion_window,
        "status": batch.status.value,
        "output_file_id": batch.output_file_id,
        "error_file_id": batch.error_file_id,
        "created_at": _ts(batch.created_at),
        "expires_at": _ts(batch.expires_at),
        **{f"{name}_at": _ts(at) if (at := moments.get(name)) else None for name in _MOMENTS},
        "request_counts": {
            "total": batch.request_total,
            "completed": batch.request_completed,
            "failed": batch.request_failed,
        },
        "metadata": batch.metadata,
    }


_MOMENTS = ("in_progress", "finalizing", "completed", "failed", "expired", "cancelling", "cancelled")


def _ts(at: datetime) -> int:
    return int(at.timestamp())


def _page(data: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    shown = data[:limit]
    return {
        "object": "list",
        "data": shown,
        "first_id": shown[0]["id"] if shown else None,
        "last_id": shown[-1]["id"] if shown else None,
        "has_more": len(data) > limit,
    }


def _query(exchange: Exchange) -> dict[str, str]:
    raw: bytes = exchange.scope.get("query_string", b"")
    return {k: v[0] for k, v in parse_qs(raw.decode("latin-1")).items() if v}


def _limit(query: dict[str, str], most: int) -> int:
    try:
        limit = int(query.get("limit", "20"))
    except ValueError:
        raise InvalidRequest("The limit must be a number.", param="limit") from None
    if not 1 <= limit <= most:
        raise InvalidRequest(f"The limit must be between 1 and {most}.", param="limit")
    return limit


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidRequest("The request body is not valid JSON.") from None
    if not isinstance(value, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return value


def _allow(method: str, *allowed: str) -> None:
    if method not in allowed:
        error = MethodNotAllowed(f"Method {method} is not allowed here; use {' or '.join(allowed)}.")
        error.headers = ((b"allow", ", ".join(allowed).encode()),)
        raise error
