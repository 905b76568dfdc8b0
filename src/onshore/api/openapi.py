"""The OpenAPI 3.1 document for the whole API, served at ``/openapi.json``.

Written out rather than generated: the gateway validates only the fields it needs and forwards
the rest, so request schemas here document the contract without costing the hot path anything.
"""

from __future__ import annotations

import functools
from typing import Any

import orjson

from onshore import __version__


def _error_responses(*statuses: int) -> dict[str, Any]:
    return {str(s): {"$ref": f"#/components/responses/E{s}"} for s in statuses}


def _op(summary: str, body: str | None, ok: str, *errors: int, tag: str, security: str) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "tags": [tag],
        "security": [{security: []}],
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": ok}}}},
            **_error_responses(*errors),
        },
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": {"$ref": body}}}}
    return op


_INFER_ERRORS = (400, 401, 403, 404, 413, 429, 502, 503, 504)


def document() -> dict[str, Any]:
    chat = _op(
        "Create a chat completion (SSE when stream=true)",
        "#/components/schemas/ChatRequest",
        "#/components/schemas/Passthrough",
        *_INFER_ERRORS,
        tag="openai",
        security="partnerKey",
    )
    chat["responses"]["200"]["content"]["text/event-stream"] = {"schema": {"type": "string"}}
    completions = _op(
        "Create a completion (legacy)",
        "#/components/schemas/CompletionRequest",
        "#/components/schemas/Passthrough",
        *_INFER_ERRORS,
        tag="openai",
        security="partnerKey",
    )
    completions["responses"]["200"]["content"]["text/event-stream"] = {"schema": {"type": "string"}}
    admin = "adminToken"
    paths: dict[str, Any] = {
        "/v1/chat/completions": {"post": chat},
        "/v1/completions": {"post": completions},
        "/v1/embeddings": {
            "post": _op(
                "Create embeddings",
                "#/components/schemas/EmbeddingsRequest",
                "#/components/schemas/Passthrough",
                *_INFER_ERRORS,
                tag="openai",
                security="partnerKey",
            )
        },
        "/v1/models": {
            "get": _op(
                "Models this key may use",
                None,
                "#/components/schemas/ModelList",
                401,
                tag="openai",
                security="partnerKey",
            )
        },
        "/v1/models/{model}": {
            "get": {
                **_op(
                    "One model",
                    None,
                    "#/components/schemas/Model",
                    401,
                    404,
                    tag="openai",
                    security="partnerKey",
                ),
                "parameters": [
                    {"name": "model", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
            }
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
        "/admin/v1/orgs": {
            "get": _op(
                "List organisations",
                None,
                "#/components/schemas/Passthrough",
                401,
                tag="admin",
                security=admin,
            ),
            "post": _op(
                "Create an organisation",
                "#/components/schemas/OrgCreate",
                "#/components/schemas/Passthrough",
                400,
                401,
                409,
                tag="admin",
                security=admin,
            ),
        },
        "/admin/v1/keys": {
            "get": {
                **_op(
                    "List keys",
                    None,
                    "#/components/schemas/Passthrough",
                    401,
                    404,
                    tag="admin",
                    security=admin,
                ),
                "parameters": [{"name": "org", "in": "query", "schema": {"type": "string"}}],
            },
            "post": _op(
                "Create a key (the secret is returned this once)",
                "#/components/schemas/KeyCreate",
                "#/components/schemas/Passthrough",
                400,
                401,
                404,
                tag="admin",
                security=admin,
            ),
        },
        "/admin/v1/keys/{key_id}/revoke": {
            "post": {
                **_op(
                    "Revoke a key",
                    None,
                    "#/components/schemas/Passthrough",
                    401,
                    404,
                    tag="admin",
                    security=admin,
                ),
                "parameters": [
                    {"name": "key_id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
            }
        },
        "/admin/v1/backends": {
            "get": _op(
                "Backends with live reachability",
                None,
                "#/components/schemas/Passthrough",
                401,
                tag="admin",
                security=admin,
            )
        },
        "/admin/v1/usage": {
            "get": {
                **_op(
                    "An organisation's usage for a month",
                    None,
                    "#/components/schemas/Passthrough",
                    400,
                    401,
                    404,
                    tag="admin",
                    security=admin,
                ),
                "parameters": [
                    {"name": "org", "in": "query", "required": True, "schema": {"type": "string"}},
                    {
                        "name": "month",
                        "in": "query",
                        "schema": {"type": "string", "pattern": r"^\d{4}-\d{2}$"},
                    },
                ],
            }
        },
    }
    statuses = {
        400: "Invalid request",
        401: "Missing, invalid, revoked or expired key",
        403: "Not allowed for this key",
        404: "Unknown model or path",
        409: "Already exists",
        413: "Body too large",
        429: "Rate limited",
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
                "adminToken": {"type": "http", "scheme": "bearer", "description": "operator admin token"},
            },
            "responses": {
                f"E{s}": {
                    "description": d,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
                for s, d in statuses.items()
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["message", "type", "param", "code"],
                            "properties": {
                                "message": {"type": "string"},
                                "type": {"type": "string"},
                                "param": {"type": ["string", "null"]},
                                "code": {"type": ["string", "null"]},
                            },
                        }
                    },
                },
                "Passthrough": {"type": "object", "additionalProperties": True},
                "ChatRequest": {
                    "type": "object",
                    "required": ["model", "messages"],
                    "additionalProperties": True,
                    "properties": {
                        "model": {"type": "string"},
                        "messages": {"type": "array", "minItems": 1},
                        "stream": {"type": "boolean"},
                        "stream_options": {"type": "object"},
                        "max_tokens": {"type": "integer", "minimum": 0},
                    },
                },
                "CompletionRequest": {
                    "type": "object",
                    "required": ["model", "prompt"],
                    "additionalProperties": True,
                    "properties": {"model": {"type": "string"}, "prompt": {}, "stream": {"type": "boolean"}},
                },
                "EmbeddingsRequest": {
                    "type": "object",
                    "required": ["model", "input"],
                    "additionalProperties": True,
                    "properties": {
                        "model": {"type": "string"},
                        "input": {},
                        "encoding_format": {"enum": ["float", "base64"]},
                        "dimensions": {"type": "integer"},
                    },
                },
                "Model": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "object": {"const": "model"},
                        "created": {"type": "integer"},
                        "owned_by": {"type": "string"},
                    },
                },
                "ModelList": {
                    "type": "object",
                    "properties": {
                        "object": {"const": "list"},
                        "data": {"type": "array", "items": {"$ref": "#/components/schemas/Model"}},
                    },
                },
                "OrgCreate": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": {"type": "string"}},
                },
                "KeyCreate": {
                    "type": "object",
                    "required": ["org"],
                    "properties": {
                        "org": {"type": "string"},
                        "name": {"type": "string"},
                        "models": {"type": "array", "items": {"type": "string"}},
                        "expires_in": {"type": "string", "examples": ["30d"]},
                    },
                },
            },
        },
    }


@functools.cache
def document_bytes() -> bytes:
    return orjson.dumps(document())
