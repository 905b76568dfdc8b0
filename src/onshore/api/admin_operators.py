"""``/admin/v1/operators``: create, list and revoke operators and issue their tokens (admin only)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from onshore.admin import operators
from onshore.errors import InvalidRequest, ServiceUnavailable
from onshore.ports import OperatorStore

if TYPE_CHECKING:
    from onshore.api.admin_routes import AdminRequest

_T = TypeVar("_T")
_CREATE_FIELDS = frozenset({"name", "role", "grants", "expires_in"})


async def list_operators(req: AdminRequest) -> tuple[int, Any]:
    store = _store(req)
    found = await _run(lambda: operators.list_operators(store))
    return 200, {"object": "list", "data": [operators.operator_json(op, tokens) for op, tokens in found]}


async def create_operator(req: AdminRequest) -> tuple[int, Any]:
    data = await req.json()
    unknown = sorted(set(data) - _CREATE_FIELDS)
    if unknown:
        raise InvalidRequest(f"unknown field {unknown[0]!r}", param=unknown[0])
    name, role = _text(data.get("name"), "name"), _text(data.get("role"), "role")
    grants = data.get("grants", [])
    if not isinstance(grants, list) or not all(isinstance(g, str) for g in grants):
        raise InvalidRequest("'grants' must be an array of permissions such as 'audit:read'.", param="grants")
    expires_in = _optional_text(data.get("expires_in"), "expires_in")
    store = _store(req)
    new = await _run(
        lambda: operators.create_operator(
            store, name, role, grants=grants, expires_in=expires_in, actor=req.actor
        )
    )
    return 201, {**operators.operator_json(new.operator, [new.token]), "token": new.secret}


async def issue_token(req: AdminRequest) -> tuple[int, Any]:
    data = await req.json()
    expires_in = _optional_text(data.get("expires_in"), "expires_in")
    store = _store(req)
    new = await _run(
        lambda: operators.issue_token(store, req.args[0], expires_in=expires_in, actor=req.actor)
    )
    return 201, {**operators.token_json(new.token), "operator": new.operator.name, "token": new.secret}


async def revoke_operator(req: AdminRequest) -> tuple[int, Any]:
    """The whole operator, or with ``{"token": "opt_…"}`` one of their tokens."""
    data = await req.json()
    token_id = _optional_text(data.get("token"), "token")
    store = _store(req)
    operator, tokens = await _run(
        lambda: operators.revoke(store, req.args[0], token_id=token_id, actor=req.actor)
    )
    if req.services.operators is not None:
        req.services.operators.forget_all()  # here at once; other replicas within their cache's second
    return 200, operators.operator_json(operator, tokens)


def _store(req: AdminRequest) -> OperatorStore:
    store = req.services.store.operators
    if store is None:  # pragma: no cover - build_services always sets it
        raise ServiceUnavailable
    return store


def _text(value: object, param: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"'{param}' is required and must be a string.", param=param)
    return value


def _optional_text(value: object, param: str) -> str | None:
    if value is None:
        return None
    return _text(value, param)


async def _run(action: Callable[[], _T]) -> _T:
    return await asyncio.to_thread(action)
