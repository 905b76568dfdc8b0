"""Rerank and score passed through the real `onshore serve` to an engine that serves them.

The scripted engine answers vLLM's shapes; the gateway forwards the partner's bytes, applies every
pipeline step (an unknown key is a 401, a model without the flag a 400) and writes one ledger row
with the engine's usage.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.support.scripted_engine import ScriptedEngine
from tests.support.services import Gateway, make_gateway, remote_backend

pytestmark = pytest.mark.slow

RERANK = {
    "model": "reranker",
    "query": "capital of korea",
    "documents": ["Paris is in France", {"text": "Seoul is the capital of Korea"}, "cats"],
    "top_n": 2,
}


@pytest.fixture(scope="module")
def engine() -> Iterator[ScriptedEngine]:
    eng = ScriptedEngine().start()
    yield eng
    eng.stop()


@pytest.fixture(scope="module")
def gw(engine: ScriptedEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp: Path = tmp_path_factory.mktemp("rerank-gateway")
    backend = remote_backend("scripted", engine.url, "chat-only")
    backend["models"].append({"name": "reranker", "upstream_name": "bge-reranker", "rerank": True})
    gateway = make_gateway(tmp, [backend])
    gateway.start()
    yield gateway
    gateway.stop()


@pytest.fixture(scope="module")
def key(gw: Gateway) -> str:
    return gw.create_key("rerank-org")[1]


def post(gw: Gateway, path: str, key: str, body: dict[str, object]) -> httpx.Response:
    return httpx.post(gw.base_url + path, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=10)


def ledger(gw: Gateway, org: str) -> list[tuple[str, int, int, int]]:
    time.sleep(1.0)  # the ledger is written in batches off the hot path
    with sqlite3.connect(gw.data_dir / "onshore.db") as db:
        (org_id,) = db.execute("SELECT id FROM organisations WHERE name = ?", (org,)).fetchone()
        rows: list[tuple[str, int, int, int]] = db.execute(
            "SELECT endpoint, status, prompt_tokens, total_tokens FROM usage_records WHERE org_id = ?"
            " ORDER BY created_at",
            (org_id,),
        ).fetchall()
        return rows


@pytest.mark.parametrize("path", ["/v1/rerank", "/rerank", "/v2/rerank"])
def test_rerank_is_passed_through(gw: Gateway, engine: ScriptedEngine, key: str, path: str) -> None:
    response = post(gw, path, key, RERANK)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "reranker"  # the public name, not the engine's
    assert [r["index"] for r in body["results"]] == [1, 0]
    assert body["usage"] == {"total_tokens": 14}
    sent = orjson.loads(engine.bodies[-1])
    assert sent["model"] == "bge-reranker"
    assert sent["documents"] == RERANK["documents"]  # everything else as the partner sent it


def test_score_is_passed_through_and_metered(gw: Gateway, engine: ScriptedEngine) -> None:
    _, key = gw.create_key("score-org")
    body = {"model": "reranker", "text_1": "seoul korea", "text_2": ["seoul", "tokyo japan"]}
    response = post(gw, "/v1/score", key, body)
    assert response.status_code == 200, response.text
    assert [d["score"] for d in response.json()["data"]] == [0.5, 0.0]
    assert post(gw, "/score", key, body).status_code == 200
    rerank = post(gw, "/v1/rerank", key, RERANK)
    assert rerank.status_code == 200
    rows = ledger(gw, "score-org")
    assert rows == [("score", 200, 5, 5), ("score", 200, 5, 5), ("rerank", 200, 14, 14)]


def test_every_pipeline_step_applies(gw: Gateway, engine: ScriptedEngine, key: str) -> None:
    calls = engine.calls
    assert post(gw, "/v1/rerank", "sk-not-a-key", RERANK).status_code == 401
    refused = post(gw, "/v1/rerank", key, {**RERANK, "model": "chat-only"})
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "model"
    assert post(gw, "/v1/score", key, {**RERANK, "model": "nope"}).status_code == 404
    assert (
        httpx.get(gw.base_url + "/v1/rerank", headers={"Authorization": f"Bearer {key}"}).status_code == 405
    )
    assert engine.calls == calls  # none of them reached the engine
