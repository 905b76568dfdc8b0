"""The OpenAPI paths and schemas of the Batch API (``/v1/files``, ``/v1/batches``): OpenAI's shapes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Op = Callable[..., dict[str, Any]]  # openapi._op: (summary, body, ok, *errors, **options)
PathParam = Callable[[str], dict[str, Any]]

_ENDPOINTS = ["/v1/chat/completions", "/v1/embeddings", "/v1/completions"]
_STATUSES = [
    "validating",
    "failed",
    "in_progress",
    "finalizing",
    "completed",
    "expired",
    "cancelling",
    "cancelled",
]
_MOMENTS = ("in_progress", "finalizing", "completed", "failed", "expired", "cancelling", "cancelled")


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def batch_paths(op: Op, path_param: PathParam) -> dict[str, Any]:
    def partner(summary: str, body: str | None, ok: str, *errors: int, **options: Any) -> dict[str, Any]:
        return op(summary, body, ok, 401, *errors, tag="batch", security="partnerKey", **options)

    upload = partner("Upload a file (purpose: batch)", None, "FileObject", 400, 413)
    upload["requestBody"] = {
        "required": True,
        "content": {"multipart/form-data": {"schema": {"$ref": "#/components/schemas/FileUpload"}}},
    }
    page = (_query("limit", {"type": "integer", "minimum": 1}), _query("after", {"type": "string"}))
    file_id = (path_param("file_id"),)
    batch_id = (path_param("batch_id"),)
    content = partner("A file's content (JSONL)", None, "FileObject", 404, params=file_id)
    content["responses"]["200"]["content"] = {"application/jsonl": {"schema": {"type": "string"}}}
    return {
        "/v1/files": {
            "post": upload,
            "get": partner(
                "This organisation's files",
                None,
                "FileList",
                400,
                params=(
                    *page,
                    _query("purpose", {"type": "string"}),
                    _query("order", {"enum": ["asc", "desc"]}),
                ),
            ),
        },
        "/v1/files/{file_id}": {
            "get": partner("A file", None, "FileObject", 404, params=file_id),
            "delete": partner("Delete a file", None, "FileDeleted", 404, params=file_id),
        },
        "/v1/files/{file_id}/content": {"get": content},
        "/v1/batches": {
            "post": partner("Create a batch", "BatchRequest", "Batch", 400, 404),
            "get": partner("This organisation's batches", None, "BatchList", 400, params=page),
        },
        "/v1/batches/{batch_id}": {"get": partner("A batch", None, "Batch", 404, params=batch_id)},
        "/v1/batches/{batch_id}/cancel": {
            "post": partner("Cancel a batch", None, "Batch", 404, params=batch_id)
        },
    }


def batch_schemas() -> dict[str, Any]:
    nullable_int = {"type": ["integer", "null"]}
    return {
        "FileUpload": {
            "type": "object",
            "required": ["file", "purpose"],
            "properties": {
                "file": {"type": "string", "format": "binary"},
                "purpose": {"type": "string", "enum": ["batch"]},
            },
        },
        "FileObject": {
            "type": "object",
            "required": ["id", "object", "bytes", "created_at", "filename", "purpose", "status"],
            "properties": {
                "id": {"type": "string"},
                "object": {"const": "file"},
                "bytes": {"type": "integer"},
                "created_at": {"type": "integer"},
                "expires_at": nullable_int,
                "filename": {"type": "string"},
                "purpose": {"type": "string", "enum": ["batch", "batch_output"]},
                "status": {"type": "string", "enum": ["processed"]},
                "status_details": {"type": ["string", "null"]},
            },
        },
        "FileDeleted": {
            "type": "object",
            "required": ["id", "object", "deleted"],
            "properties": {
                "id": {"type": "string"},
                "object": {"const": "file"},
                "deleted": {"type": "boolean"},
            },
        },
        "FileList": _list("FileObject"),
        "BatchRequest": {
            "type": "object",
            "required": ["input_file_id", "endpoint", "completion_window"],
            "properties": {
                "input_file_id": {"type": "string"},
                "endpoint": {"type": "string", "enum": _ENDPOINTS},
                "completion_window": {"type": "string", "enum": ["24h"]},
                "metadata": {
                    "type": ["object", "null"],
                    "maxProperties": 16,
                    "additionalProperties": {"type": "string", "maxLength": 512},
                },
            },
        },
        "Batch": {
            "type": "object",
            "required": [
                "id",
                "object",
                "endpoint",
                "input_file_id",
                "completion_window",
                "status",
                "created_at",
                "request_counts",
            ],
            "properties": {
                "id": {"type": "string"},
                "object": {"const": "batch"},
                "endpoint": {"type": "string", "enum": _ENDPOINTS},
                "errors": {"type": ["object", "null"]},
                "input_file_id": {"type": "string"},
                "completion_window": {"type": "string"},
                "status": {"type": "string", "enum": _STATUSES},
                "output_file_id": {"type": ["string", "null"]},
                "error_file_id": {"type": ["string", "null"]},
                "created_at": {"type": "integer"},
                "expires_at": nullable_int,
                **{f"{moment}_at": nullable_int for moment in _MOMENTS},
                "request_counts": {
                    "type": "object",
                    "required": ["total", "completed", "failed"],
                    "properties": {name: {"type": "integer"} for name in ("total", "completed", "failed")},
                },
                "metadata": {"type": ["object", "null"], "additionalProperties": {"type": "string"}},
            },
        },
        "BatchList": _list("Batch"),
    }


def _list(item: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["object", "data", "has_more"],
        "properties": {
            "object": {"const": "list"},
            "data": {"type": "array", "items": {"$ref": f"#/components/schemas/{item}"}},
            "first_id": {"type": ["string", "null"]},
            "last_id": {"type": ["string", "null"]},
            "has_more": {"type": "boolean"},
        },
    }
