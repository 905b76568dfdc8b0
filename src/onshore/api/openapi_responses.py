"""The OpenAPI paths and schemas of the Responses API (``/v1/responses``): OpenAI's shapes, kept
permissive where OpenAI's own are (input items and output items are open objects)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from onshore.api.openapi_schemas import MODEL_SCHEMA as _MODEL

Op = Callable[..., dict[str, Any]]  # openapi._op: (summary, body, ok, *errors, **options)
PathParam = Callable[[str], dict[str, Any]]


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def responses_paths(op: Op, path_param: PathParam, infer_errors: tuple[int, ...]) -> dict[str, Any]:
    create = op(
        "Create a response",
        "ResponsesRequest",
        "Response",
        *infer_errors,
        tag="openai",
        security="partnerKey",
    )
    create["responses"]["200"]["content"]["text/event-stream"] = {
        "schema": {
            "$ref": "#/components/schemas/ResponseStreamEvent",
            "description": "with stream=true: one event each; the last is response.completed",
        }
    }
    one = (path_param("response_id"),)
    page = (
        *one,
        _query("limit", {"type": "integer", "minimum": 1, "maximum": 100}),
        _query("order", {"type": "string", "enum": ["asc", "desc"]}),
        _query("after", {"type": "string"}),
    )
    return {
        "/v1/responses": {"post": create},
        "/v1/responses/{response_id}": {
            "get": op(
                "A stored response",
                None,
                "Response",
                401,
                404,
                tag="openai",
                security="partnerKey",
                params=one,
            ),
            "delete": op(
                "Delete a stored response",
                None,
                "ResponseDeleted",
                401,
                404,
                tag="openai",
                security="partnerKey",
                params=one,
            ),
        },
        "/v1/responses/{response_id}/input_items": {
            "get": op(
                "The input items of a stored response",
                None,
                "ResponseItemList",
                400,
                401,
                404,
                tag="openai",
                security="partnerKey",
                params=page,
            )
        },
    }


def responses_schemas() -> dict[str, Any]:
    item = {"type": "object", "additionalProperties": True}
    return {
        "ResponsesRequest": {
            "type": "object",
            "required": ["model", "input"],
            "additionalProperties": True,
            "properties": {
                "model": _MODEL,
                "input": {"oneOf": [{"type": "string"}, {"type": "array", "items": item, "minItems": 1}]},
                "instructions": {"type": ["string", "null"]},
                "previous_response_id": {"type": ["string", "null"], "minLength": 1},
                "stream": {"type": ["boolean", "null"]},
                "store": {"type": ["boolean", "null"]},
                "max_output_tokens": {"type": ["integer", "null"], "minimum": 1},
                "temperature": {"type": ["number", "null"]},
                "top_p": {"type": ["number", "null"]},
                # Function tools only: built-in tools (web search, files) need an engine that serves
                # the Responses API itself, and are refused with a 400 saying so.
                "tools": {
                    "type": ["array", "null"],
                    "items": {
                        "type": "object",
                        "required": ["type", "name"],
                        "additionalProperties": True,
                        "properties": {"type": {"const": "function"}, "name": {"type": "string"}},
                    },
                },
                "tool_choice": {
                    "oneOf": [
                        {"type": "string"},
                        {
                            "type": "object",
                            "required": ["type", "name"],
                            "properties": {"type": {"const": "function"}, "name": {"type": "string"}},
                        },
                        {"type": "null"},
                    ]
                },
                "parallel_tool_calls": {"type": ["boolean", "null"]},
                "text": {"type": ["object", "null"], "additionalProperties": True},
            },
        },
        "Response": {
            "type": "object",
            "required": ["id", "object", "created_at", "status", "model", "output"],
            "properties": {
                "id": {"type": "string"},
                "object": {"const": "response"},
                "created_at": {"type": "integer"},
                "status": {"type": "string", "enum": ["completed", "incomplete", "in_progress", "failed"]},
                "model": {"type": "string"},
                "output": {"type": "array", "items": item},
                "usage": {"type": ["object", "null"]},
            },
        },
        "ResponseStreamEvent": {
            "type": "object",
            "required": ["type", "sequence_number"],
            "properties": {"type": {"type": "string"}, "sequence_number": {"type": "integer"}},
        },
        "ResponseDeleted": {
            "type": "object",
            "required": ["id", "object", "deleted"],
            "properties": {
                "id": {"type": "string"},
                "object": {"const": "response.deleted"},
                "deleted": {"type": "boolean"},
            },
        },
        "ResponseItemList": {
            "type": "object",
            "required": ["object", "data", "has_more"],
            "properties": {
                "object": {"const": "list"},
                "data": {"type": "array", "items": item},
                "first_id": {"type": ["string", "null"]},
                "last_id": {"type": ["string", "null"]},
                "has_more": {"type": "boolean"},
            },
        },
    }
