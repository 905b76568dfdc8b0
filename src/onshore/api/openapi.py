"""The OpenAPI 3.1 document for the whole API, served at ``/openapi.json``.

Written out rather than generated: the gateway validates only the fields it needs and forwards
the rest, so request schemas here document the contract without costing the hot path anything.
"""

from __future__ import annotations

import functools
from typing import Any

import orjson

from onshore import __version__
from onshore.api.openapi_batches import batch_paths, batch_schemas
from onshore.api.openapi_invoices import invoice_paths, invoice_schemas
from onshore.api.openapi_limits import limits_schemas
from onshore.api.openapi_operators import operator_paths, operator_schemas
from onshore.api.openapi_policy import MONTH, policy_paths, policy_schemas
from onshore.api.openapi_rerank import rerank_paths
from onshore.api.openapi_responses import responses_paths, responses_schemas
from onshore.api.openapi_schemas import schemas


def _error_responses(*statuses: int) -> dict[str, Any]:
    return {str(s): {"$ref": f"#/components/responses/E{s}"} for s in statuses}


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def _op(
    summary: str,
    body: str | None,
    ok: str,
    *errors: int,
    tag: str,
    security: str,
    status: int = 200,
    params: tuple[dict[str, Any], ...] = (),
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "tags": [tag],
        "security": [{security: []}],
        "responses": {
            str(status): {"description": "Created" if status == 201 else "OK", "content": _json(ok)},
            **_error_responses(*errors),
        },
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": _json(body)}
    if params:
        op["parameters"] = list(params)
    return op


def _streaming(op: dict[str, Any], event: str) -> dict[str, Any]:
    """OpenAI's convention: the schema of a text/event-stream is that of one event's data."""
    op["responses"]["200"]["content"]["text/event-stream"] = {
        "schema": {
            "$ref": f"#/components/schemas/{event}",
            "description": "with stream=true: one `data:` event each, ending with `data: [DONE]`",
        }
    }
    return op


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}


# 408: the body stopped arriving; 431: headers over server.max_header_bytes (answered by the edge).
_INFER_ERRORS = (400, 401, 403, 404, 408, 413, 429, 431, 502, 503, 504)
_ADMIN = "adminToken"


def _admin_paths() -> dict[str, Any]:
    key_id = _path_param("key_id")
    return {
        "/admin/v1/orgs": {
            "get": _op("List organisations", None, "OrganisationList", 401, tag="admin", security=_ADMIN),
            "post": _op(
                "Create an organisation",
                "OrgCreate",
                "Organisation",
                400,
                401,
                409,
                tag="admin",
                security=_ADMIN,
                status=201,
            ),
        },
        "/admin/v1/keys": {
            "get": _op(
                "List keys",
                None,
                "ApiKeyList",
                401,
                404,
                tag="admin",
                security=_ADMIN,
                params=({"name": "org", "in": "query", "schema": {"type": "string"}},),
            ),
            "post": _op(
                "Create a key (the secret is returned this once)",
                "KeyCreate",
                "ApiKeyCreated",
                400,
                401,
                404,
                tag="admin",
                security=_ADMIN,
                status=201,
            ),
        },
        "/admin/v1/keys/{key_id}": {
            "delete": _op(
                "Revoke a key", None, "ApiKey", 401, 404, tag="admin", security=_ADMIN, params=(key_id,)
            ),
        },
        "/admin/v1/keys/{key_id}/revoke": {
            "post": _op(
                "Revoke a key (the same as DELETE)",
                None,
                "ApiKey",
                401,
                404,
                tag="admin",
                security=_ADMIN,
                params=(key_id,),
            ),
        },
        "/admin/v1/backends": {
            "get": _op(
                "Backends: reachability, requests in flight, and their models' fair queues",
                None,
                "Passthrough",
                400,
                401,
                tag="admin",
                security=_ADMIN,
                params=(
                    {
                        "name": "probe",
                        "in": "query",
                        "description": "false: reachability as last probed, answered at once",
                        "schema": {"type": "boolean", "default": True},
                    },
                ),
            )
        },
        "/admin/v1/audit": {
            "get": _op(
                "The audit trail of organisation and key changes, newest first",
                None,
                "AuditEntryList",
                400,
                401,
                404,
                tag="admin",
                security=_ADMIN,
                params=(
                    {"name": "org", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                    },
                ),
            )
        },
        "/admin/v1/usage": {
            "get": _op(
                "An organisation's usage for a month",
                None,
                "Passthrough",
                400,
                401,
                404,
                tag="admin",
                security=_ADMIN,
                params=(
                    {
                        "name": "org",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "minLength": 1},
                    },
                    {
                        "name": "month",
                        "in": "query",
                        "schema": MONTH,
                    },
                ),
            )
        },
    }


def _limits_paths() -> dict[str, Any]:
    admin: dict[str, Any] = {"tag": "admin", "security": _ADMIN}
    paths: dict[str, Any] = {}
    for path, whose, param in (
        ("/admin/v1/orgs/{name}/limits", "an organisation", "name"),
        ("/admin/v1/keys/{key_id}/limits", "a key", "key_id"),
    ):
        params = (_path_param(param),)
        paths[path] = {
            "get": _op(f"The limits of {whose}", None, "Limits", 401, 404, params=params, **admin),
            "put": _op(
                f"Change the limits of {whose}: null clears a field, a field left out keeps its value",
                "LimitsUpdate",
                "Limits",
                400,
                401,
                404,
                params=params,
                **admin,
            ),
        }
        paths[path]["put"]["requestBody"]["required"] = False  # no body: nothing changes
    paths["/admin/v1/prices"] = {
        "get": _op("Every price, from the config and stored (stored wins)", None, "PriceList", 401, **admin),
        "put": _op(
            "Set one price or several (all checked first)", "PriceSet", "PriceList", 400, 401, **admin
        ),
    }
    return paths


def document() -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/v1/chat/completions": {
            "post": _streaming(
                _op(
                    "Create a chat completion",
                    "ChatRequest",
                    "Passthrough",
                    *_INFER_ERRORS,
                    tag="openai",
                    security="partnerKey",
                ),
                "ChatStreamEvent",
            )
        },
        "/v1/completions": {
            "post": _streaming(
                _op(
                    "Create a completion (legacy)",
                    "CompletionRequest",
                    "Passthrough",
                    *_INFER_ERRORS,
                    tag="openai",
                    security="partnerKey",
                ),
                "CompletionStreamEvent",
            )
        },
        "/v1/embeddings": {
            "post": _op(
                "Create embeddings",
                "EmbeddingsRequest",
                "Passthrough",
                *_INFER_ERRORS,
                tag="openai",
                security="partnerKey",
            )
        },
        **rerank_paths(_op, _INFER_ERRORS),
        "/v1/models": {
            "get": _op("Models this key may use", None, "ModelList", 401, tag="openai", security="partnerKey")
        },
        "/v1/models/{model}": {
            "get": _op(
                "One model",
                None,
                "Model",
                401,
                404,
                tag="openai",
                security="partnerKey",
                params=(_path_param("model"),),
            )
        },
        "/healthz": {
            "get": {"summary": "Liveness", "tags": ["ops"], "responses": {"200": {"description": "alive"}}}
        },
        "/readyz": {
            "get": {
                "summary": "Readiness: names each failing check",
                "tags": ["ops"],
                "responses": {"200": {"description": "ready"}, "503": {"description": "not ready"}},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "tags": ["ops"],
                "responses": {"200": {"description": "text exposition format"}},
            }
        },
        **_admin_paths(),
        **_limits_paths(),
        **policy_paths(_op, _path_param),
        **invoice_paths(_op, _path_param),
        **operator_paths(_op, _path_param),
        **responses_paths(_op, _path_param, _INFER_ERRORS),
        **batch_paths(_op, _path_param),
    }
    statuses = {
        400: "Invalid request",
        401: "Missing, invalid, revoked or expired key",
        403: "Not allowed for this key, or the operator lacks the permission",
        404: "Unknown model or path",
        408: "The request body stopped arriving",
        409: "Already exists",
        413: "Body too large",
        429: "Rate limited",
        431: "Request headers too large",
        502: "Backend failed",
        503: "Backend unavailable",
        504: "Backend timed out",
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Onshore gateway",
            "version": __version__,
            "description": "OpenAI-compatible partner API and operator admin API.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "partnerKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "sk-onshore-... partner key",
                },
                "adminToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "an operator token (onshore-op-...; docs/operators.md), or the "
                    "break-glass admin token; a valid token whose role lacks the route's permission "
                    "gets 403 permission_denied",
                },
            },
            "responses": {
                f"E{s}": {"description": d, "content": _json("Error")} for s, d in statuses.items()
            },
            "schemas": {
                **schemas(),
                **limits_schemas(),
                **policy_schemas(),
                **invoice_schemas(),
                **operator_schemas(),
                **responses_schemas(),
                **batch_schemas(),
            },
        },
    }


@functools.cache
def document_bytes() -> bytes:
    return orjson.dumps(document())
