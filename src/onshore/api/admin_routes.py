"""``/admin/v1/…``: organisations, keys, limits, prices, policies, backends, usage, residency,
invoices and operators, behind operator tokens (or the break-glass admin token).

Every route declares the permission it needs (``admin_permissions.ROUTE_PERMISSIONS``), checked here
in one place: a valid token without it gets 403 ``permission_denied`` naming the permission, never
401. A partner key is never an admin credential: it gets 401 here like any other wrong token.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qs

import orjson

from onshore.admin import audit, tenancy, usage
from onshore.admin.tenancy import key_json, org_json
from onshore.api import admin_backends, admin_invoices, admin_limits, admin_operators, admin_policy
from onshore.api.admin_permissions import ROUTE_PERMISSIONS
from onshore.api.http import Exchange
from onshore.domain.operators import Caller
from onshore.errors import AuthenticationFailed, InvalidRequest, MethodNotAllowed, NotFound, PermissionDenied
from onshore.services import Services

_PREFIX = "/admin/v1/"
_T = TypeVar("_T")


@dataclass(slots=True)
class AdminRequest:
    services: Services
    exchange: Exchange
    query: dict[str, str]
    args: tuple[str, ...]  # path parameters
    caller: Caller

    @property
    def actor(self) -> str:
        """The audit trail's name for this change: ``operator:<name>``."""
        return self.caller.actor

    async def json(self) -> dict[str, Any]:
        raw = await self.exchange.body(1024 * 1024)
        try:
            value = orjson.loads(raw or b"{}")
        except orjson.JSONDecodeError:
            raise InvalidRequest("The request body is not valid JSON.") from None
        if not isinstance(value, dict):
            raise InvalidRequest("The request body must be a JSON object.")
        return value


Handler = Callable[[AdminRequest], Awaitable[tuple[int, Any]]]


async def dispatch(services: Services, exchange: Exchange) -> None:
    scope, headers = exchange.scope, exchange.headers
    caller = await _authenticate(services, headers)
    parts = tuple(scope["path"][len(_PREFIX) :].strip("/").split("/"))
    # Blank values kept: "?probe=" is a bad flag (400), not a silent default.
    raw_query = scope.get("query_string", b"").decode("latin-1")
    query = {k: v[-1] for k, v in parse_qs(raw_query, keep_blank_values=True).items()}
    for pattern, methods in _ROUTES:
        args = _match(pattern, parts)
        if args is None:
            continue
        handler = methods.get(scope["method"])
        if handler is None:
            error = MethodNotAllowed(
                f"Method {scope['method']} is not allowed here; use {' or '.join(methods)}."
            )
            error.headers = ((b"allow", ", ".join(methods).encode()),)  # RFC 9110: a 405 must name them
            raise error
        permission = ROUTE_PERMISSIONS[pattern][scope["method"]]
        if not caller.may(permission):
            raise PermissionDenied(
                f"Operator {caller.name!r} ({caller.role}) lacks the permission {permission!r}.",
                code="permission_denied",
            )
        status, payload = await handler(AdminRequest(services, exchange, query, args, caller))
        if isinstance(payload, admin_invoices.RawReply):  # an invoice as HTML or CSV
            await exchange.reply(status, payload.body, payload.content_type)
            return
        await exchange.reply_json(status, payload)
        return
    raise NotFound("Unknown admin path.", code="unknown_url")


def _match(pattern: tuple[str, ...], parts: tuple[str, ...]) -> tuple[str, ...] | None:
    if len(pattern) != len(parts):
        return None
    args = []
    for want, got in zip(pattern, parts, strict=True):
        if want == "*":
            if not got:
                return None
            args.append(got)
        elif want != got:
            return None
    return tuple(args)


async def _list_orgs(req: AdminRequest) -> tuple[int, Any]:
    orgs = await _run(req.services.store.tenancy.list_orgs)
    return 200, {"object": "list", "data": [org_json(o) for o in orgs]}


async def _create_org(req: AdminRequest) -> tuple[int, Any]:
    data = await req.json()
    name = _string(data.get("name"), "name")
    allowed = tenancy.jurisdictions_arg(data.get("jurisdictions"))
    org = await _run(
        lambda: tenancy.create_org(req.services.store.tenancy, name, jurisdictions=allowed, actor=req.actor)
    )
    if allowed is not None:
        await req.services.announce_limits_change()  # its policy, on every replica at once
    return 201, {**org_json(org), "jurisdictions": _listed(allowed)}


async def _list_keys(req: AdminRequest) -> tuple[int, Any]:
    keys = await _run(lambda: tenancy.list_keys(req.services.store.tenancy, req.query.get("org")))
    return 200, {"object": "list", "data": [key_json(k) for k in keys]}


async def _create_key(req: AdminRequest) -> tuple[int, Any]:
    data = await req.json()
    org_name = _string(data.get("org"), "org")
    models = data.get("models")
    if models is not None and not (isinstance(models, list) and all(isinstance(m, str) for m in models)):
        raise InvalidRequest("'models' must be an array of strings.", param="models")
    expires_in = data.get("expires_in")
    if expires_in is not None and not isinstance(expires_in, str):
        raise InvalidRequest("'expires_in' must be a string such as '30d'.", param="expires_in")
    key_name = data.get("name")
    if key_name is not None and not isinstance(key_name, str):  # was dropped silently for "default"
        raise InvalidRequest("'name' must be a string.", param="name")
    allowed = tenancy.jurisdictions_arg(data.get("jurisdictions"))
    store = req.services.store
    new = await _run(
        lambda: tenancy.create_key(
            store.tenancy,
            store.digester,
            org_name,
            name=key_name,
            models=models,
            expires_in=expires_in,
            jurisdictions=allowed,
            policies=store.policies,
            home=req.services.settings.server.jurisdiction,
            actor=req.actor,
        )
    )
    if allowed is not None:
        # Its policy first: on this replica the key is then never served under its organisation's.
        await req.services.announce_limits_change()
    await req.services.key_sync.refresh_key(new.key.id)  # usable on this replica at once
    return 201, {**key_json(new.key), "key": new.secret, "jurisdictions": _listed(allowed)}


async def _revoke_key(req: AdminRequest) -> tuple[int, Any]:
    key = await _run(lambda: tenancy.revoke_key(req.services.store.tenancy, req.args[0], actor=req.actor))
    await req.services.revoke_everywhere(key.id)
    return 200, key_json(key)


async def _backends(req: AdminRequest) -> tuple[int, Any]:
    probe = admin_backends.parse_probe(req.query.get("probe"))
    return 200, {"object": "list", "data": await admin_backends.backends_status(req.services, probe=probe)}


async def _usage(req: AdminRequest) -> tuple[int, Any]:
    org_name = _string(req.query.get("org"), "org")
    store = req.services.store
    summary = await _run(
        lambda: usage.usage_for_month(store.tenancy, store.usage, org_name, req.query.get("month"))
    )
    return 200, usage.summary_to_json(summary, org_name)


async def _audit(req: AdminRequest) -> tuple[int, Any]:
    store = req.services.store
    limit = _int_query(req.query.get("limit"), default=100)
    entries = await _run(
        lambda: audit.list_entries(
            store.audit_reader, store.tenancy, org_name=req.query.get("org"), limit=limit
        )
    )
    return 200, {"object": "list", "data": [audit.audit_json(e) for e in entries]}


def _int_query(value: str | None, *, default: int) -> int:
    if value is None:
        return default
    if not value.isdigit() or len(value) > 6:
        raise InvalidRequest("limit must be a whole number", param="limit")
    return int(value)


_ROUTES: tuple[tuple[tuple[str, ...], dict[str, Handler]], ...] = (
    (("orgs",), {"GET": _list_orgs, "POST": _create_org}),
    (("keys",), {"GET": _list_keys, "POST": _create_key}),
    (("keys", "*", "revoke"), {"POST": _revoke_key}),
    (("keys", "*"), {"DELETE": _revoke_key}),
    (("orgs", "*", "limits"), {"GET": admin_limits.get_org_limits, "PUT": admin_limits.put_org_limits}),
    (("keys", "*", "limits"), {"GET": admin_limits.get_key_limits, "PUT": admin_limits.put_key_limits}),
    (("prices",), {"GET": admin_limits.get_prices, "PUT": admin_limits.put_prices}),
    (("orgs", "*", "policy"), {"GET": admin_policy.get_org_policy, "PUT": admin_policy.put_org_policy}),
    (("keys", "*", "policy"), {"GET": admin_policy.get_key_policy, "PUT": admin_policy.put_key_policy}),
    (("residency",), {"GET": admin_policy.get_residency}),
    (("backends",), {"GET": _backends}),
    (("usage",), {"GET": _usage}),
    (("audit",), {"GET": _audit}),
    (("invoices",), {"GET": admin_invoices.list_invoices, "POST": admin_invoices.create_invoice}),
    (("invoices", "*"), {"GET": admin_invoices.get_invoice}),
    (("operators",), {"GET": admin_operators.list_operators, "POST": admin_operators.create_operator}),
    (("operators", "*", "tokens"), {"POST": admin_operators.issue_token}),
    (("operators", "*", "revoke"), {"POST": admin_operators.revoke_operator}),
)


async def _authenticate(services: Services, headers: dict[bytes, bytes]) -> Caller:
    """The operator a bearer token proves; the break-glass admin token is operator ``admin``."""
    operators = services.operators
    if operators is None:  # pragma: no cover - build_services always sets it
        raise AuthenticationFailed("The admin API is disabled.", code="admin_disabled")
    given = headers.get(b"authorization", b"")
    token = given[7:].strip() if given[:7].lower() == b"bearer " else b""
    return await operators.authenticate(token.decode("latin-1"))


async def _run(action: Callable[[], _T]) -> _T:
    return await asyncio.to_thread(action)


def _listed(codes: tuple[str, ...] | None) -> list[str] | None:
    return None if codes is None else list(codes)


def _string(value: object, param: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"'{param}' is required and must be a string.", param=param)
    return value
