"""The whole HTTP API fuzzed from the gateway's own OpenAPI document, with schemathesis.

A real ``onshore serve`` on SQLite with the fake engine behind it; every operation of
``/openapi.json`` gets generated requests (valid and invalid ones: schemathesis' examples, coverage
and fuzzing phases), once with a partner key and once with the admin token. Every answer must be:
no 500 (a 5xx only as 502/503/504, the engine's failures), errors in OpenAI's shape, no secret of
ours in a body or a header (the admin token, the partner key's secret, a canary put in every prompt),
and the server alive and answering ``/healthz`` afterwards, with none of them in its log either.

Bounded for CI: ``MAX_EXAMPLES`` generated requests per operation in the fuzzing phase (the
coverage phase adds its own fixed, schema-derived set), a fixed seed and no example database, so a
run sends the same requests every time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest
import schemathesis
from schemathesis import Case, CheckContext, CheckFunction, Response
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
)

from onshore.api.openapi import document
from tests.support.services import Gateway, Upstream, make_gateway, remote_backend

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 30
SEED = 20_261_207
CANARY = "canary-7c1e5a0d-do-not-echo"
_ENGINE_STATUSES = frozenset({502, 503, 504})  # the engine failed: documented, not a bug of ours


def _reranking(backend: dict[str, Any]) -> dict[str, Any]:
    """The chat models also serve rerank and score (as vLLM's can), so those paths get fuzzed too."""
    for model in backend["models"]:
        model["rerank"] = model["name"] != "bench-embed"
    return backend


@pytest.fixture(scope="module")
def fuzz_gateway(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    gw = make_gateway(
        tmp,
        [
            _reranking(
                remote_backend("pool", upstream.url, "bench-model", ("aliased", "bench-model"), "bench-embed")
            )
        ],
        # The access log on: one more place a secret or a prompt must never reach.
        extra={"server": {"max_body_bytes": 256 * 1024, "access_log": True}},
    )
    gw.start()
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def partner_secret(fuzz_gateway: Gateway) -> str:
    return fuzz_gateway.create_key("fuzz-org")[1]


def _schema(*, extra_parameters: bool) -> schemathesis.BaseSchema:
    """The served document, loaded in process: pytest collects the operations before the server runs
    (``test_the_fuzzed_document_is_the_served_one`` checks they are the same)."""
    api = schemathesis.openapi.from_dict(document())
    api.config.seed = SEED
    api.config.generation.update(
        max_examples=MAX_EXAMPLES,
        deterministic=True,
        database="none",
        allow_extra_parameters=extra_parameters,
    )
    return api


# Reads take query parameters only, and the gateway ignores ones it does not know, as HTTP APIs do:
# an unknown one is no invalid request there. Writes keep them, since a body with an unknown field
# must be refused wherever the document closes it (limits, prices, policies).
_writes = _schema(extra_parameters=True)
_reads = _schema(extra_parameters=False)
_WRITE = ["POST", "PUT", "DELETE"]


def _ops(tags: list[str]) -> dict[str, schemathesis.BaseSchema]:
    """The operations of these tags; one ``include`` call ANDs its filters (several would OR)."""
    return {
        "writes": _writes.include(method=_WRITE, tag=tags),
        "reads": _reads.include(method="GET", tag=tags),
    }


_WHOLE_NUMBERS = ("max_tokens", "max_completion_tokens", "n", "dimensions")


_SERVED = ("bench-model", "aliased")  # "aliased" makes the gateway re-encode the body for the engine
_ENGINE_MAX_DIMENSIONS = 65_536  # the fake engine's


def _whole(value: Any) -> Any:
    """``value`` with its whole floats, in lists too, written as integers."""
    if isinstance(value, list):
        return [_whole(item) for item in value]
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _prepare(case: Case) -> None:
    """Name a model the gateway serves, and put the canary where a prompt goes.

    A generated model name is served by no one, so every request would stop at 404 before the
    pipeline: a valid one is replaced by a served one (the invalid ones stay, to be refused). And
    whole numbers are written as integers: JSON Schema's ``integer`` admits ``10.0``, which the
    gateway refuses for ``max_tokens`` and ``n`` as OpenAI does ("expected an integer, but got a
    decimal number"); the schema language cannot say so, the document's description does.
    """
    body = case.body
    if not isinstance(body, dict):
        return
    model = body.get("model")
    if isinstance(model, str) and 0 < len(model) <= 256 and model.isprintable():
        embeddings = case.operation.path == "/v1/embeddings"
        body["model"] = "bench-embed" if embeddings else _SERVED[len(model) % 2]
    dimensions = body.get("dimensions")
    if isinstance(dimensions, int) and dimensions > _ENGINE_MAX_DIMENSIONS:
        body["dimensions"] = 64  # forwarded unread: the engine's own bound, which no document states
    for name in _WHOLE_NUMBERS:
        if name in body:
            body[name] = _whole(body[name])
    for name in ("prompt", "input"):  # token ids
        if isinstance(body.get(name), list):
            body[name] = _whole(body[name])
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in messages:
            if isinstance(message, dict):
                message["content"] = CANARY
    if isinstance(body.get("prompt"), str):
        body["prompt"] = CANARY
    if isinstance(body.get("input"), str):
        body["input"] = CANARY


def _event_validators() -> dict[str, jsonschema_rs.Validator]:
    """Per streaming path, a validator of one event's data, as the document states it.

    The document follows OpenAI's convention, the schema of a text/event-stream being that of one
    event's ``data``; schemathesis reads it as OpenAPI 3.2 does (the schema of the event object, its
    ``data`` a string), so streams are checked here instead, against the same schemas.
    """
    doc = document()
    validators = {}
    for path, item in doc["paths"].items():
        content = item.get("post", {}).get("responses", {}).get("200", {}).get("content", {})
        if "text/event-stream" in content:
            event = {"$ref": content["text/event-stream"]["schema"]["$ref"], "components": doc["components"]}
            validators[path] = jsonschema_rs.validator_for(event)
    return validators


_EVENTS = _event_validators()


def _check_stream(path: str, content: bytes) -> None:
    """Every event a JSON chunk (or an error) as documented; a chat or completions stream ends with
    [DONE], a Responses stream with its terminal event (``response.completed``, ``.failed``,
    ``.incomplete``, or ``error``), as OpenAI's do."""
    events = [line[6:] for line in content.split(b"\n") if line.startswith(b"data: ")]
    assert events, content[-300:]
    if path == "/v1/responses":
        last = json.loads(events[-1])
        assert last["type"] in ("response.completed", "response.failed", "response.incomplete", "error"), last
    else:
        assert events[-1] == b"[DONE]", content[-300:]
        events = events[:-1]
    for data in events:
        _EVENTS[path].validate(json.loads(data))


def _contract(secrets: tuple[str, ...], only: int | None) -> CheckFunction:
    """Onshore's own check of every answer, beside schemathesis' built-in ones (``only``: the status
    every answer must have, but 405 where schemathesis tries a method the path does not take)."""

    def onshore_contract(ctx: CheckContext, response: Response, case: Case) -> bool:
        status = response.status_code
        assert only in (None, status) or (case.method != case.operation.method.upper() and status == 405), (
            f"{status}, not {only}: {response.text[:300]}"
        )
        assert status < 500 or status in _ENGINE_STATUSES, f"{status}: {response.text[:300]}"
        assert response.headers.get("x-request-id"), "every answer carries the server's request id"
        if response.headers.get("content-type", [""])[0].startswith("text/event-stream"):
            _check_stream(case.operation.path, response.content)
        if status >= 400:
            assert response.headers["content-type"][0].startswith("application/json")
            body = json.loads(response.content)
            assert set(body) == {"error"}, body
            assert set(body["error"]) == {"message", "type", "param", "code"}, body
        text = response.content.decode("utf-8", "replace")
        heads = " ".join(f"{k}: {v}" for k, vs in response.headers.items() for v in vs)
        for secret in secrets:
            assert secret not in text and secret not in heads, "a secret came back"
        return True

    return onshore_contract


# Where valid-looking input can still be refused for what a schema cannot say, "valid input is
# accepted" is not checked (everything else is): a personal-data type needs a mode stored on the
# subject or above it; a key's jurisdictions must lie within its organisation's as stored; a won
# amount has at most six decimal places, which a number or its text can exceed; a month is invoiced
# only once it is over; a duration is above zero and at most 3650 days; the operator name "admin" is
# the break-glass operator's, and a name is taken once.
_NOT_EXPRESSIBLE = frozenset(
    {
        "POST /admin/v1/operators",
        "POST /admin/v1/operators/{name}/tokens",
        "PUT /admin/v1/orgs/{name}/policy",
        "PUT /admin/v1/keys/{key_id}/policy",
        "POST /admin/v1/keys",
        "PUT /admin/v1/prices",
        "POST /admin/v1/invoices",
    }
)
# And "invalid input is refused" is not checked where the engine decides: an inference request's
# fields beyond the few the gateway reads (model, stream, messages, the counts) go to the engine
# unread, and the fake one is lenient (it takes false for token 0). The gateway's own refusals are
# pinned by tests/unit/gateway/test_request_body.py and tests/e2e/test_nasty_inputs.py.
_ENGINE_DECIDES = frozenset({"POST /v1/chat/completions", "POST /v1/completions", "POST /v1/embeddings"})
# The Responses API's input items and content parts are translated by type and role (an input of
# reasoning items only has nothing to send; a part's rules depend on its message's role): the schema
# states their shapes loosely, so neither direction of "valid in, valid out" is checked there. The
# translation's rules are pinned by tests/e2e/test_responses_sdk.py; the fuzzer still checks that
# nothing crashes, every error has OpenAI's shape, and no secret or prompt comes back.
_TRANSLATED = frozenset({"POST /v1/responses"})


def _call(
    case: Case, gw: Gateway, credential: str, secrets: tuple[str, ...], only: int | None = None
) -> None:
    _prepare(case)
    excluded: list[CheckFunction] = []
    if case.operation.label in _NOT_EXPRESSIBLE | _TRANSLATED:
        excluded.append(positive_data_acceptance)
    if case.operation.label in _ENGINE_DECIDES | _TRANSLATED:
        excluded.append(negative_data_rejection)
    if isinstance(case.body, dict) and case.body.get("stream") is True:
        excluded.append(response_schema_conformance)  # streams: _check_stream instead
    case.call_and_validate(
        base_url=gw.base_url,
        headers={"Authorization": f"Bearer {credential}"},
        timeout=30,
        additional_checks=[_contract(secrets, only)],
        excluded_checks=excluded,
    )


def _secrets(gw: Gateway, partner_secret: str) -> tuple[str, ...]:
    return (gw.admin_token, partner_secret, CANARY)


@schemathesis.pytest.parametrize(**_ops(["openai", "ops"]))
def test_partner_api_with_a_partner_key(case: Case, fuzz_gateway: Gateway, partner_secret: str) -> None:
    _call(case, fuzz_gateway, partner_secret, _secrets(fuzz_gateway, partner_secret))


@schemathesis.pytest.parametrize(**_ops(["admin"]))
def test_admin_api_with_the_admin_token(case: Case, fuzz_gateway: Gateway, partner_secret: str) -> None:
    _call(case, fuzz_gateway, fuzz_gateway.admin_token, _secrets(fuzz_gateway, partner_secret))


@schemathesis.pytest.parametrize(**_ops(["admin"]))
def test_admin_api_with_a_partner_key(case: Case, fuzz_gateway: Gateway, partner_secret: str) -> None:
    """A partner key is never an admin credential: 401 everywhere, whatever the request, nothing echoed."""
    _call(case, fuzz_gateway, partner_secret, _secrets(fuzz_gateway, partner_secret), only=401)


@schemathesis.pytest.parametrize(**_ops(["openai"]))
def test_partner_api_with_the_admin_token(case: Case, fuzz_gateway: Gateway, partner_secret: str) -> None:
    """Nor is the admin token a partner key."""
    _call(case, fuzz_gateway, fuzz_gateway.admin_token, _secrets(fuzz_gateway, partner_secret), only=401)


def test_the_gateway_survived_without_logging_a_secret(fuzz_gateway: Gateway, partner_secret: str) -> None:
    """Runs after the fuzzing above (pytest keeps the file's order)."""
    assert fuzz_gateway.proc is not None and fuzz_gateway.proc.poll() is None, fuzz_gateway.log_text()[-3000:]
    assert httpx.get(fuzz_gateway.base_url + "/healthz", timeout=5).status_code == 200
    log = fuzz_gateway.log_text()
    for secret in (fuzz_gateway.admin_token, partner_secret, CANARY):
        assert secret not in log
    assert "Traceback" not in log and "unhandled error" not in log, log[-3000:]


def test_the_fuzzed_document_is_the_served_one(fuzz_gateway: Gateway) -> None:
    """The document is loaded in process (collection needs it before the server runs): the same one."""
    served = httpx.get(fuzz_gateway.base_url + "/openapi.json", timeout=5).json()
    assert served == document()
