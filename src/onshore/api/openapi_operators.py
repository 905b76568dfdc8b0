"""The OpenAPI paths and schemas of operators (``/admin/v1/operators``, admin only); the shapes are
``onshore.admin.operators.operator_json``'s and ``token_json``'s."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from onshore.domain.operators import PERMISSIONS, ROLES

Op = Callable[..., dict[str, Any]]  # openapi._op: (summary, body, ok, *errors, **options)

_STAMP = {"type": ["integer", "null"], "description": "unix seconds; null: never"}
_PERMISSION = {"enum": sorted(PERMISSIONS)}
_TOKEN = {
    "type": "string",
    "pattern": "^onshore-op-",
    "description": "the token itself: returned this once only, stored only as its SHA-256",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "required": list(properties) if required is None else required,
        "properties": properties,
    }


def operator_schemas() -> dict[str, Any]:
    token = {
        "id": {"type": "string", "pattern": "^opt_"},
        "prefix": {"type": "string", "description": "the token's first characters, to tell tokens apart"},
        "created_at": {"type": "integer"},
        "expires_at": _STAMP,
        "revoked_at": _STAMP,
    }
    operator = {
        "object": {"const": "operator"},
        "id": {"type": "string", "pattern": "^op_"},
        "name": {"type": "string"},
        "role": {"enum": list(ROLES)},
        "grants": {"type": "array", "items": _PERMISSION},
        "permissions": {"type": "array", "items": _PERMISSION},
        "created_at": {"type": "integer"},
        "revoked_at": _STAMP,
        "tokens": {"type": "array", "items": _ref("OperatorToken")},
    }
    expires = {
        "type": ["string", "null"],
        "pattern": "^\\s*\\d{1,12}\\s*[smhdw]\\s*$",
        "description": "the token's lifetime, e.g. 90d (at most 3650d); null or absent: none",
    }
    return {
        "OperatorToken": _obj(token),
        "Operator": _obj(operator),
        "OperatorList": _obj(
            {"object": {"const": "list"}, "data": {"type": "array", "items": _ref("Operator")}}
        ),
        "OperatorCreated": {"allOf": [_ref("Operator"), _obj({"token": _TOKEN})]},
        "OperatorTokenIssued": {
            "allOf": [_ref("OperatorToken"), _obj({"operator": {"type": "string"}, "token": _TOKEN})]
        },
        "OperatorCreate": _obj(
            {
                "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,63}$"},
                "role": {"enum": list(ROLES)},
                "grants": {"type": "array", "items": _PERMISSION},
                "expires_in": expires,
            },
            ["name", "role"],
        ),
        "OperatorTokenCreate": _obj({"expires_in": expires}, []),
        "OperatorRevoke": _obj(
            {
                "token": {
                    "type": ["string", "null"],
                    "minLength": 1,
                    "description": "revoke only this token (opt_...); null or absent: the operator",
                }
            },
            [],
        ),
    }


def operator_paths(op: Op, path_param: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    admin: dict[str, Any] = {"tag": "admin", "security": "adminToken"}
    name = path_param("name")
    issue = op(
        "Issue one more token (operators:write)",
        "OperatorTokenCreate",
        "OperatorTokenIssued",
        400,
        401,
        403,
        404,
        409,
        status=201,
        params=(name,),
        **admin,
    )
    revoke = op(
        "Revoke an operator and their tokens, or one token (operators:write)",
        "OperatorRevoke",
        "Operator",
        400,
        401,
        403,
        404,
        params=(name,),
        **admin,
    )
    for optional in (issue, revoke):  # no body: a token without expiry; the whole operator
        optional["requestBody"]["required"] = False
    return {
        "/admin/v1/operators": {
            "get": op("Operators and their tokens (operators:read)", None, "OperatorList", 401, 403, **admin),
            "post": op(
                "Create an operator and their first token (operators:write)",
                "OperatorCreate",
                "OperatorCreated",
                400,
                401,
                403,
                409,
                status=201,
                **admin,
            ),
        },
        "/admin/v1/operators/{name}/tokens": {"post": issue},
        "/admin/v1/operators/{name}/revoke": {"post": revoke},
    }
