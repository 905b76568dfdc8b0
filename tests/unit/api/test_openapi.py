"""The OpenAPI document says what the server does: no looser, no route or status left out."""

from __future__ import annotations

import re
from typing import Any

import orjson

from onshore.api import admin_routes
from onshore.api.openapi import document, document_bytes


def _schema(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(doc["components"]["schemas"][name])


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def test_every_reference_resolves() -> None:
    doc = document()
    for ref in _refs(doc):
        section, kind, name = ref.removeprefix("#/").split("/")
        assert name in doc[section][kind], ref


def test_the_bytes_are_the_document() -> None:
    assert orjson.loads(document_bytes()) == orjson.loads(orjson.dumps(document()))


def test_request_bodies_are_as_strict_as_the_gateway() -> None:
    """schemathesis found `model: ""` and `messages: [null]` allowed by the document, refused by us."""
    doc = document()
    for name in ("ChatRequest", "CompletionRequest", "EmbeddingsRequest"):
        model = _schema(doc, name)["properties"]["model"]
        assert (model["type"], model["minLength"], model["maxLength"]) == ("string", 1, 256)
        assert re.search(model["pattern"], "a\x00b") is None and re.search(model["pattern"], "gpt-4o")
    messages = _schema(doc, "ChatRequest")["properties"]["messages"]
    assert messages["minItems"] == 1
    assert messages["items"]["type"] == "object" and messages["items"]["required"] == ["role"]
    assert messages["items"]["properties"]["role"] == {"type": "string"}
    chat = _schema(doc, "ChatRequest")["properties"]
    assert chat["max_tokens"]["minimum"] == 0 and "integer" in chat["max_tokens"]["type"]
    assert "boolean" in chat["stream"]["type"]
    # A prompt or an input: a text, or a non-empty array of texts, token ids or lists of them (the
    # engine refused `prompt: [null]`, which a bare "array" allowed).
    texts = _schema(doc, "CompletionRequest")["properties"]["prompt"]
    assert texts == _schema(doc, "EmbeddingsRequest")["properties"]["input"]
    assert texts["anyOf"][0] == {"type": "string"}
    assert all(branch["type"] == "array" and branch["minItems"] == 1 for branch in texts["anyOf"][1:])
    assert texts["anyOf"][1]["items"] == {"type": "string"}


def test_every_admin_route_and_method_is_documented() -> None:
    paths = document()["paths"]
    names = {"orgs": "{name}", "keys": "{key_id}", "invoices": "{invoice_id}", "operators": "{name}"}
    for pattern, methods in admin_routes._ROUTES:
        path = "/admin/v1/" + "/".join(
            names[pattern[i - 1]] if part == "*" else part for i, part in enumerate(pattern)
        )
        assert path in paths, path
        assert set(paths[path]) == {m.lower() for m in methods}, path


def test_creations_answer_201_and_revocation_by_delete_is_there() -> None:
    paths = document()["paths"]
    assert set(paths["/admin/v1/orgs"]["post"]["responses"]) >= {"201", "400", "409"}
    assert "200" not in paths["/admin/v1/orgs"]["post"]["responses"]
    created = paths["/admin/v1/keys"]["post"]["responses"]["201"]["content"]["application/json"]
    assert created["schema"]["$ref"].endswith("/ApiKeyCreated")
    delete = paths["/admin/v1/keys/{key_id}"]["delete"]
    assert delete["parameters"][0]["name"] == "key_id"
    assert delete["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/ApiKey")


def test_streams_document_their_events() -> None:
    doc = document()
    chat = doc["paths"]["/v1/chat/completions"]["post"]["responses"]["200"]["content"]
    assert chat["text/event-stream"]["schema"]["$ref"].endswith("/ChatStreamEvent")
    chunk = _schema(doc, "ChatCompletionChunk")
    assert chunk["properties"]["object"] == {"const": "chat.completion.chunk"}
    assert {"$ref": "#/components/schemas/Error"} in _schema(doc, "ChatStreamEvent")["anyOf"]
    legacy = doc["paths"]["/v1/completions"]["post"]["responses"]["200"]["content"]
    assert legacy["text/event-stream"]["schema"]["$ref"].endswith("/CompletionStreamEvent")


def test_the_edges_own_answers_are_documented() -> None:
    responses = document()["paths"]["/v1/chat/completions"]["post"]["responses"]
    assert {"408", "413", "431"} <= set(responses)
