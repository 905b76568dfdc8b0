"""The component schemas of the OpenAPI document (``onshore.api.openapi``).

Request schemas say exactly what the gateway itself refuses (``onshore.gateway.request_body``), no
less, so a client generated from them never meets a 400 the document allowed; what the gateway
forwards unread stays open (``additionalProperties``). Response schemas follow OpenAI's shapes and
the admin API's ``org_json``, ``key_json`` and ``audit_json`` (``onshore.admin``).
"""

from __future__ import annotations

from typing import Any

from onshore.api.openapi_policy import JURISDICTIONS

# request_body.py: a non-empty string of at most 256 characters without control characters.
MODEL_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 256, "pattern": "^[^\\u0000-\\u001f\\u007f]+$"}
_MODEL = MODEL_SCHEMA
# max_tokens, max_completion_tokens, n. JSON Schema's integer admits 10.0, which the gateway refuses
# as OpenAI does; and orjson reads an integer past 2**64 - 1 as a float, refused the same way.
_COUNT = {
    "type": ["integer", "null"],
    "minimum": 0,
    "maximum": 2**64 - 1,
    "description": "a whole number written without a fraction (10, not 10.0)",
}
_NUMBER = {"type": ["number", "null"]}  # temperature, top_p
_STREAM = {"type": ["boolean", "null"], "description": "true: the answer comes as server-sent events"}
_STREAM_OPTIONS = {
    "type": ["object", "null"],
    "properties": {"include_usage": {"type": "boolean"}},
    "additionalProperties": True,
}
_GENERATION = {
    "stream": _STREAM,
    "stream_options": _STREAM_OPTIONS,
    "max_tokens": _COUNT,
    "max_completion_tokens": _COUNT,
    "n": _COUNT,
    "temperature": _NUMBER,
    "top_p": _NUMBER,
}
# A prompt or an embeddings input, as OpenAI takes them: a text, texts, token ids or lists of them.
# The gateway checks only for a string or an array and forwards the rest; the engine refuses others.
_TOKEN = {"type": "integer", "minimum": 0, "maximum": 2**32 - 1}  # an index into the vocabulary
_TEXTS = {
    "anyOf": [
        {"type": "string"},
        {"type": "array", "minItems": 1, "items": {"type": "string"}},
        {"type": "array", "minItems": 1, "items": _TOKEN},
        {"type": "array", "minItems": 1, "items": {"type": "array", "items": _TOKEN}},
    ]
}
_TIMESTAMP = {"type": "string", "format": "date-time"}
_NULL = {"type": "null"}
_NULLABLE_TIMESTAMP = {"type": ["string", "null"], "format": "date-time"}
_USAGE = {
    "type": ["object", "null"],
    "properties": {
        "prompt_tokens": {"type": "integer"},
        "completion_tokens": {"type": "integer"},
        "total_tokens": {"type": "integer"},
    },
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _list_of(name: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["object", "data"],
        "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": _ref(name)}},
    }


def _chunk(kind: str, choice: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["id", "object", "created", "model", "choices"],
        "additionalProperties": True,
        "properties": {
            "id": {"type": "string"},
            "object": {"const": kind},
            "created": {"type": "integer"},
            "model": {"type": "string"},
            "choices": {"type": "array", "items": choice},
            "usage": _USAGE,
        },
    }


def _choice(**fields: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": True,
        "properties": {
            "index": {"type": "integer"},
            **fields,
            "finish_reason": {"type": ["string", "null"]},
        },
    }


def schemas() -> dict[str, Any]:
    return {
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
                "model": _MODEL,
                "messages": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["role"],
                        "additionalProperties": True,
                        "properties": {"role": {"type": "string"}},
                    },
                },
                **_GENERATION,
            },
        },
        "CompletionRequest": {
            "type": "object",
            "required": ["model", "prompt"],
            "additionalProperties": True,
            "properties": {"model": _MODEL, "prompt": _TEXTS, **_GENERATION},
        },
        # Rerank and score are passed through as bytes to engines that serve them (vLLM's shapes;
        # Jina/Cohere-style bodies alike): only `model` is read here.
        "RerankRequest": {
            "type": "object",
            "required": ["model", "query", "documents"],
            "additionalProperties": True,
            "properties": {
                "model": _MODEL,
                "query": {"type": "string"},
                "documents": {"type": "array", "items": {}},
                "top_n": {"type": "integer", "minimum": 1},
            },
        },
        "ScoreRequest": {
            "type": "object",
            "required": ["model", "text_1", "text_2"],
            "additionalProperties": True,
            "properties": {"model": _MODEL, "text_1": _TEXTS, "text_2": _TEXTS},
        },
        "EmbeddingsRequest": {
            "type": "object",
            "required": ["model", "input"],
            "additionalProperties": True,
            "properties": {
                "model": _MODEL,
                "input": _TEXTS,
                "stream": _STREAM,
                "encoding_format": {"enum": ["float", "base64"]},
                "dimensions": {"type": "integer", "minimum": 1},
            },
        },
        # One `data:` line of a stream each; the stream ends with `data: [DONE]`. A failure after the
        # stream started comes as one event holding an `Error` (the status cannot change any more).
        "ChatCompletionChunk": _chunk(
            "chat.completion.chunk",
            _choice(
                delta={
                    "type": "object",
                    "additionalProperties": True,
                    "properties": {"role": {"type": "string"}, "content": {"type": ["string", "null"]}},
                }
            ),
        ),
        "CompletionChunk": _chunk("text_completion", _choice(text={"type": "string"})),
        "ChatStreamEvent": {"anyOf": [_ref("ChatCompletionChunk"), _ref("Error")]},
        "CompletionStreamEvent": {"anyOf": [_ref("CompletionChunk"), _ref("Error")]},
        "Model": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "object": {"const": "model"},
                "created": {"type": "integer"},
                "owned_by": {"type": "string"},
            },
        },
        "ModelList": _list_of("Model"),
        "Organisation": {
            "type": "object",
            "required": ["id", "object", "name", "created_at"],
            "properties": {
                "id": {"type": "string"},
                "object": {"const": "organisation"},
                "name": {"type": "string"},
                "created_at": _TIMESTAMP,
            },
        },
        "OrganisationList": _list_of("Organisation"),
        "ApiKey": {
            "type": "object",
            "required": ["id", "object", "org_id", "name", "prefix", "models", "created_at"],
            "properties": {
                "id": {"type": "string"},
                "object": {"const": "api_key"},
                "org_id": {"type": "string"},
                "name": {"type": ["string", "null"]},
                "prefix": {"type": "string", "description": "the first characters, to recognise it"},
                "models": {"type": ["array", "null"], "items": {"type": "string"}},
                "created_at": _TIMESTAMP,
                "expires_at": _NULLABLE_TIMESTAMP,
                "revoked_at": _NULLABLE_TIMESTAMP,
            },
        },
        "ApiKeyCreated": {
            "allOf": [
                _ref("ApiKey"),
                {
                    "type": "object",
                    "required": ["key"],
                    "properties": {"key": {"type": "string", "description": "the secret, shown this once"}},
                },
            ]
        },
        "ApiKeyList": _list_of("ApiKey"),
        "AuditEntry": {
            "type": "object",
            "required": ["id", "object", "at", "actor", "action", "target_type"],
            "properties": {
                "id": {"type": "string"},
                "object": {"const": "audit.entry"},
                "at": _TIMESTAMP,
                "actor": {
                    "type": "string",
                    "description": "operator:<name> (admin API, console), cli:<user> or system",
                },
                "action": {"type": "string", "examples": ["key.create", "key.revoke", "org.create"]},
                "target_type": {"type": "string"},
                "target_id": {"type": ["string", "null"]},
                "org_id": {"type": ["string", "null"]},
                "detail": {"type": "object", "additionalProperties": True},
                "seq": {
                    "type": ["integer", "null"],
                    "description": "the entry's place in the audit hash chain (docs/audit.md)",
                },
                "prev_hash": {"type": ["string", "null"], "description": "hex SHA-256 of the entry before"},
                "hash": {"type": ["string", "null"], "description": "hex SHA-256 of prev_hash + this entry"},
            },
        },
        "AuditEntryList": _list_of("AuditEntry"),
        "OrgCreate": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$"},
                "jurisdictions": {
                    "anyOf": [JURISDICTIONS, _NULL],
                    "description": "default: the gateway's own",
                },
            },
        },
        "KeyCreate": {
            "type": "object",
            "required": ["org"],
            "properties": {
                "org": {"type": "string", "minLength": 1},
                "name": {"type": ["string", "null"]},
                "models": {
                    "type": ["array", "null"],
                    "items": {"type": "string"},
                    # Blank names are dropped (str.strip's whitespace): at least one must be left.
                    "contains": {"type": "string", "pattern": "[^\\s\\u001c-\\u001f\\u0085]"},
                    "description": "the models the key may use; null: all",
                },
                "expires_in": {
                    "type": ["string", "null"],
                    "pattern": "^\\s*\\d{1,12}\\s*[smhdw]\\s*$",
                    "description": "a duration such as 30d, 12h, 90m or 2w; at most 3650d",
                    "examples": ["30d"],
                },
                "jurisdictions": {
                    "anyOf": [JURISDICTIONS, _NULL],
                    "description": "within the organisation's; default: its",
                },
            },
        },
    }
