"""Sovereignty through the real gateway, driven as partners drive it (the official ``openai`` SDK) and
as operators do (the CLI and the admin API): residency never leaves the allowed jurisdictions, under
load and when the allowed backends are down; the personal-data policy redacts what a model sees and
restores it for the partner, streams included; ``block`` refuses naming the types."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import openai
import pytest

from tests.support.scripted_engine import ScriptedEngine
from tests.support.services import Gateway, make_gateway, remote_backend

RRN = "900101-1234568"
PHONE = "010-9876-5432"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engines() -> Iterator[tuple[ScriptedEngine, ScriptedEngine]]:
    kr, jp = ScriptedEngine().start(), ScriptedEngine().start()
    yield kr, jp
    kr.stop()
    jp.stop()


@pytest.fixture(scope="module")
def gw(
    engines: tuple[ScriptedEngine, ScriptedEngine], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    kr, jp = engines
    tmp: Path = tmp_path_factory.mktemp("sovereignty")
    gateway = make_gateway(
        tmp,
        [
            remote_backend(
                "kr-engine", kr.url, "echo", "normal", "bench-embed", jurisdiction="KR", operator="kt-cloud"
            ),
            remote_backend(
                "jp-engine", jp.url, "echo", "normal", "jp-only", jurisdiction="JP", operator="jp-dc"
            ),
            remote_backend(
                "kr-dead",
                "http://127.0.0.1:9/v1",
                "fragile",
                jurisdiction="KR",
                timeouts={"connect_s": 1.0, "first_byte_s": 2.0, "total_s": 5.0},
            ),
            remote_backend("jp-fragile", jp.url, ("fragile", "normal"), jurisdiction="JP"),
        ],
    )
    gateway.start()
    yield gateway
    gateway.stop()


def _admin(gw: Gateway, method: str, path: str, body: dict[str, object] | None = None) -> httpx.Response:
    return httpx.request(
        method,
        gw.base_url + path,
        json=body,
        headers={"Authorization": f"Bearer {gw.admin_token}"},
        timeout=10,
    )


def _org_with_key(gw: Gateway, org: str, *create: str) -> tuple[str, str]:
    gw.cli("orgs", "create", org, *create)
    gw.keys[org] = org
    return gw.create_key(org)


def _sdk(gw: Gateway, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.v1, api_key=key, max_retries=0)


def _set_policy(gw: Gateway, org: str, **policy: object) -> None:
    response = _admin(gw, "PUT", f"/admin/v1/orgs/{org}/policy", policy)
    assert response.status_code == 200, response.text


# --- residency --------------------------------------------------------------------------------------


def test_an_organisation_limited_to_kr_never_reaches_a_backend_elsewhere_under_load(
    gw: Gateway, engines: tuple[ScriptedEngine, ScriptedEngine]
) -> None:
    kr, jp = engines
    _, key = _org_with_key(gw, "kr-only", "--jurisdictions", "KR")
    before_kr, before_jp = kr.calls, jp.calls
    sdk = _sdk(gw, key)

    def one(i: int) -> str | None:
        raw = sdk.chat.completions.with_raw_response.create(
            model="normal", messages=[{"role": "user", "content": f"hi {i}"}], stream=i % 2 == 0
        )
        jurisdiction = raw.headers.get("x-onshore-jurisdiction")
        parsed = raw.parse()
        if i % 2 == 0:
            list(parsed)  # type: ignore[call-overload]
        return jurisdiction

    with ThreadPoolExecutor(16) as pool:
        seen = list(pool.map(one, range(64)))
    assert set(seen) == {"KR"}
    assert jp.calls == before_jp and kr.calls - before_kr == 64


def test_a_model_served_only_abroad_is_403_residency_unavailable(gw: Gateway) -> None:
    _, key = _org_with_key(gw, "kr-only-403", "--jurisdictions", "KR")
    listed = {m.id for m in _sdk(gw, key).models.list()}
    assert "jp-only" not in listed and "normal" in listed  # a model it cannot reach is not offered
    with pytest.raises(openai.NotFoundError):
        _sdk(gw, key).models.retrieve("jp-only")
    with pytest.raises(openai.PermissionDeniedError) as info:
        _sdk(gw, key).chat.completions.create(model="jp-only", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 403 and info.value.code == "residency_unavailable"


def test_allowed_backends_down_is_503_and_nothing_goes_abroad(
    gw: Gateway, engines: tuple[ScriptedEngine, ScriptedEngine]
) -> None:
    _, jp = engines
    _, key = _org_with_key(gw, "kr-only-503", "--jurisdictions", "KR")
    before = jp.calls
    for _ in range(3):
        with pytest.raises(openai.InternalServerError) as info:
            _sdk(gw, key).chat.completions.create(
                model="fragile", messages=[{"role": "user", "content": "hi"}]
            )
        assert info.value.status_code == 503 and info.value.code == "residency_unavailable"
    assert jp.calls == before
    # an organisation that may use JP is served there
    _, wide = _org_with_key(gw, "kr-jp", "--jurisdictions", "KR,JP")
    raw = _sdk(gw, wide).chat.completions.with_raw_response.create(
        model="fragile", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.headers["x-onshore-jurisdiction"] == "JP" and jp.calls > before


def test_the_residency_report_matches_the_ledger_row_for_row(gw: Gateway) -> None:
    org = "report-org"
    _, key = _org_with_key(gw, org, "--jurisdictions", "KR,JP")
    sdk = _sdk(gw, key)
    for i in range(6):
        sdk.chat.completions.create(model="normal", messages=[{"role": "user", "content": f"q{i}"}])
    sdk.chat.completions.create(model="jp-only", messages=[{"role": "user", "content": "jp"}])
    month = datetime.now(UTC).strftime("%Y-%m")
    rows = _ledger_rows(gw, org)
    deadline = 50
    while len(rows) < 7 and deadline:  # the ledger is written off the request path
        import time

        time.sleep(0.1)
        rows = _ledger_rows(gw, org)
        deadline -= 1
    report = json.loads(gw.cli("residency", "report", "--org", org, "--month", month, "--json").stdout)
    expected: dict[tuple[str | None, str | None], list[int]] = {}
    for jurisdiction, backend, _, total in rows:
        if backend is not None:  # served (routed), failed or not
            counts = expected.setdefault((jurisdiction, backend), [0, 0])
            counts[0] += 1
            counts[1] += total
    got = {(r["jurisdiction"], r["backend"]): [r["requests"], r["total_tokens"]] for r in report["served"]}
    assert got == expected
    assert report["requests"] == len(rows)
    assert {j for j, _ in got} == {"KR", "JP"}


def _ledger_rows(gw: Gateway, org: str) -> list[tuple[str | None, str | None, int, int]]:
    with sqlite3.connect(gw.data_dir / "onshore.db") as db:
        (org_id,) = db.execute("SELECT id FROM organisations WHERE name = ?", (org,)).fetchone()
        return db.execute(
            "SELECT jurisdiction, backend, status, total_tokens FROM usage_records WHERE org_id = ?",
            (org_id,),
        ).fetchall()


# --- personal data ----------------------------------------------------------------------------------


def test_redact_with_restore_through_the_sdk_streaming_and_not(
    gw: Gateway, engines: tuple[ScriptedEngine, ScriptedEngine]
) -> None:
    kr, _ = engines
    _, key = _org_with_key(gw, "redactor")
    _set_policy(gw, "redactor", pii="redact", restore=True)
    sdk = _sdk(gw, key)
    prompt = f"주민번호 {RRN} 와 전화 {PHONE} 를 확인해 주세요"
    answer = sdk.chat.completions.create(model="echo", messages=[{"role": "user", "content": prompt}])
    assert answer.choices[0].message.content == prompt  # the partner gets its own values back
    seen = kr.bodies[-1].decode()
    assert RRN not in seen and PHONE not in seen and "[KR_RRN_1]" in seen and "[KR_PHONE_1]" in seen

    stream = sdk.chat.completions.create(
        model="echo", messages=[{"role": "user", "content": prompt}], stream=True
    )
    pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
    assert "".join(pieces) == prompt
    assert any("[" in p and "]" not in p for p in _engine_pieces(kr)), "a placeholder was split across chunks"
    assert RRN not in kr.bodies[-1].decode()


def _engine_pieces(engine: ScriptedEngine) -> list[str]:
    seen = json.loads(engine.bodies[-1])["messages"][-1]["content"]
    return [seen[i : i + 4] for i in range(0, len(seen), 4)]


def test_content_parts_and_embeddings_are_redacted(
    gw: Gateway, engines: tuple[ScriptedEngine, ScriptedEngine]
) -> None:
    kr, _ = engines
    _, key = _org_with_key(gw, "parts")
    _set_policy(gw, "parts", pii="redact")
    sdk = _sdk(gw, key)
    sdk.chat.completions.create(
        model="echo", messages=[{"role": "user", "content": [{"type": "text", "text": f"전화 {PHONE}"}]}]
    )
    assert PHONE not in kr.bodies[-1].decode() and "[KR_PHONE_1]" in kr.bodies[-1].decode()
    sdk.embeddings.create(model="bench-embed", input=["안녕하세요", f"주민번호 {RRN}"])
    assert RRN not in kr.bodies[-1].decode() and "[KR_RRN_1]" in kr.bodies[-1].decode()


def test_block_refuses_naming_the_types_never_the_values(
    gw: Gateway, engines: tuple[ScriptedEngine, ScriptedEngine]
) -> None:
    kr, _ = engines
    _, key = _org_with_key(gw, "blocker")
    _set_policy(gw, "blocker", pii="block")
    before = kr.calls
    with pytest.raises(openai.BadRequestError) as info:
        _sdk(gw, key).chat.completions.create(
            model="echo", messages=[{"role": "user", "content": f"제 번호는 {RRN}, {PHONE}"}]
        )
    assert info.value.status_code == 400 and info.value.code == "pii_detected"
    message = str(info.value.message)
    assert "KR_RRN" in message and "KR_PHONE" in message and RRN not in message and PHONE not in message
    assert kr.calls == before
