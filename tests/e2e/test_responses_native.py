"""The Responses API passed through to an engine that serves /v1/responses itself (`responses:
native`), against a real `onshore serve`: the official SDK gets the engine's bytes, the ledger row
has the engine's tokens, a redacting organisation's personal data never reaches the engine, and a
stored engine id is the caller's alone. A translated model beside it shows the row's endpoint too."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.support.scripted_engine import ScriptedEngine
from tests.support.scripted_responses import MARKER
from tests.support.services import Gateway, make_gateway, remote_backend

RRN = "900101-1234568"


@pytest.fixture(scope="module")
def engine() -> Iterator[ScriptedEngine]:
    eng = ScriptedEngine().start()
    yield eng
    eng.stop()


@pytest.fixture(scope="module")
def gateway(engine: ScriptedEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp: Path = tmp_path_factory.mktemp("responses-native")
    backends = [
        remote_backend("vllm", engine.url, "native", ("renamed", "native-upstream"), responses="native"),
        remote_backend("chat-only", engine.url, "echo"),
    ]
    gw = make_gateway(tmp, backends)
    gw.start()
    yield gw
    gw.stop()


def _org_key(gw: Gateway, org: str) -> str:
    gw.cli("orgs", "create", org)
    gw.keys[org] = org
    return gw.create_key(org)[1]


def _sdk(gw: Gateway, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.v1, api_key=key, max_retries=0)


def _rows(gw: Gateway, org: str, count: int) -> list[tuple[str, str, int, int, int, int]]:
    deadline = time.monotonic() + 10
    while True:  # the ledger is written off the request path
        with sqlite3.connect(gw.data_dir / "onshore.db") as db:
            rows = db.execute(
                "SELECT u.endpoint, u.model, u.prompt_tokens, u.completion_tokens, u.total_tokens,"
                " u.cached_tokens FROM usage_records u JOIN organisations o ON o.id = u.org_id"
                " WHERE o.name = ? ORDER BY u.created_at",
                (org,),
            ).fetchall()
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def test_sdk_plain_and_streamed_get_the_engines_answer_and_the_ledger_its_tokens(
    gateway: Gateway, engine: ScriptedEngine
) -> None:
    key = _org_key(gateway, "native-acme")
    sdk = _sdk(gateway, key)
    response = sdk.responses.create(model="native", input="hello native", store=False)
    assert response.output_text == "hello native"
    assert (response.model_extra or {}).get("engine_marker") == MARKER  # the engine's own field
    assert response.usage is not None and response.usage.output_tokens == 4
    sent = json.loads(engine.bodies[-1])
    assert sent == {"model": "native", "input": "hello native", "store": False}  # as the partner sent it

    events = list(sdk.responses.create(model="native", input="streamed words here", stream=True, store=False))
    assert events[0].type == "response.created"
    done = events[-1]
    assert done.type == "response.completed"
    assert done.response.output_text == "streamed words here"
    assert (done.response.model_extra or {}).get("engine_marker") == MARKER
    assert "stream_options" not in json.loads(engine.bodies[-1])  # no chat field added to the body

    rows = _rows(gateway, "native-acme", 2)
    assert rows == [("responses", "native", 7, 4, 11, 2)] * 2


def test_bytes_unchanged_and_the_model_renamed_to_the_upstream_name(
    gateway: Gateway, engine: ScriptedEngine
) -> None:
    key = _org_key(gateway, "native-bytes")
    body = {"model": "native", "input": "byte for byte", "store": False}
    through = httpx.post(f"{gateway.v1}/responses", json=body, headers={"Authorization": f"Bearer {key}"})
    direct = httpx.post(f"{engine.url}/responses", json=body)
    assert through.status_code == 200
    assert through.content == direct.content
    assert through.headers["x-onshore-jurisdiction"] == "KR"

    answer = _sdk(gateway, key).responses.create(model="renamed", input="alias", store=False)
    assert json.loads(engine.bodies[-1])["model"] == "native-upstream"
    assert answer.model == "renamed"  # replies name the public model


def test_a_redacting_organisation_sends_the_engine_placeholders(
    gateway: Gateway, engine: ScriptedEngine
) -> None:
    key = _org_key(gateway, "native-redact")
    response = httpx.put(
        f"{gateway.base_url}/admin/v1/orgs/native-redact/policy",
        json={"pii": "redact"},
        headers={"Authorization": f"Bearer {gateway.admin_token}"},
    )
    assert response.status_code == 200, response.text
    sdk = _sdk(gateway, key)
    sdk.responses.create(
        model="native",
        instructions=f"The customer is {RRN}.",
        input=[{"role": "user", "content": [{"type": "input_text", "text": f"주민번호 {RRN} 확인"}]}],
        store=False,
    )
    seen = engine.bodies[-1].decode()
    assert RRN not in seen and "[KR_RRN_1]" in seen
    events = list(sdk.responses.create(model="native", input=f"번호 {RRN}", stream=True, store=False))
    assert events[-1].type == "response.completed"
    seen = engine.bodies[-1].decode()
    assert RRN not in seen and "[KR_RRN_1]" in seen


def test_previous_response_id_is_passed_through_only_for_its_organisation(
    gateway: Gateway, engine: ScriptedEngine
) -> None:
    owner = _sdk(gateway, _org_key(gateway, "native-owner"))
    first = owner.responses.create(model="native", input="remember me")
    assert first.id.startswith("resp_native")
    assert owner.responses.retrieve(first.id).output_text == "remember me"  # stored per organisation
    owner.responses.create(model="native", input="and then", previous_response_id=first.id)
    assert json.loads(engine.bodies[-1])["previous_response_id"] == first.id  # untouched
    calls = engine.calls
    stranger = _sdk(gateway, _org_key(gateway, "native-stranger"))
    with pytest.raises(openai.NotFoundError):
        stranger.responses.create(model="native", input="steal", previous_response_id=first.id)
    with pytest.raises(openai.NotFoundError):
        stranger.responses.retrieve(first.id)
    assert engine.calls == calls  # the engine never saw the other organisation's continuation


def test_a_translated_responses_request_is_metered_as_responses(gateway: Gateway) -> None:
    sdk = _sdk(gateway, _org_key(gateway, "translated-meter"))
    sdk.responses.create(model="echo", input="count me", store=False)
    rows = _rows(gateway, "translated-meter", 1)
    assert len(rows) == 1
    assert rows[0][:2] == ("responses", "echo")
    assert rows[0][4] > 0
