"""The Batch API with the official Python SDK against a real `onshore serve`: upload, run to
completion with one failing request, the output and error files, cancel, another organisation's
404s, and a gateway stopped mid-batch that finishes it after a restart, running no request twice."""

from __future__ import annotations

import io
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import openai
import orjson
import pytest

from tests.support.scripted_engine import ScriptedEngine
from tests.support.services import Gateway, make_gateway, remote_backend

_BATCH_CONFIG = {
    "batches": {"concurrency": 2, "poll_interval_s": 0.2, "lease_s": 5.0, "drain_s": 10.0},
}


@pytest.fixture(scope="module")
def engine() -> Iterator[ScriptedEngine]:
    eng = ScriptedEngine().start()
    yield eng
    eng.stop()


@pytest.fixture(scope="module")
def gateway(engine: ScriptedEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp: Path = tmp_path_factory.mktemp("batches")
    gw = make_gateway(
        tmp,
        [remote_backend("engine", engine.url, "m", "sleepy", "gated", "bench-embed")],
        extra=_BATCH_CONFIG,
    )
    gw.start()
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def client(gateway: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.v1, api_key=gateway.create_key("acme")[1], max_retries=0)


def _line(custom_id: str, model: str, text: str | None = None) -> dict[str, object]:
    body = {"model": model, "messages": [{"role": "user", "content": text or custom_id}]}
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}


def _jsonl(lines: list[dict[str, object]]) -> bytes:
    return b"".join(orjson.dumps(line) + b"\n" for line in lines)


def _wait(client: openai.OpenAI, batch_id: str, *done: str, timeout: float = 60.0) -> openai.types.Batch:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = client.batches.retrieve(batch_id)
        if batch.status in done:
            return batch
        time.sleep(0.1)
    raise AssertionError(f"batch {batch_id} is still {batch.status}")


def _ledger(gateway: Gateway, batch_id: str) -> list[tuple[str, int]]:
    with sqlite3.connect(gateway.data_dir / "onshore.db") as db:
        rows = db.execute(
            "SELECT request_id, status FROM usage_records WHERE batch_id = ?", (batch_id,)
        ).fetchall()
    return [(str(r), int(s)) for r, s in rows]


def test_a_batch_runs_to_completed_with_one_failure_in_the_error_file(
    client: openai.OpenAI, gateway: Gateway
) -> None:
    lines = [_line(f"ok-{i}", "m") for i in range(5)] + [_line("bad", "no-such-model")]
    uploaded = client.files.create(file=("input.jsonl", io.BytesIO(_jsonl(lines))), purpose="batch")
    assert (uploaded.purpose, uploaded.filename, uploaded.bytes) == (
        "batch",
        "input.jsonl",
        len(_jsonl(lines)),
    )
    assert client.files.retrieve(uploaded.id).id == uploaded.id
    assert uploaded.id in [f.id for f in client.files.list()]

    batch = client.batches.create(
        input_file_id=uploaded.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"job": "nightly"},
    )
    assert (batch.status, batch.metadata, batch.request_counts.total) == ("validating", {"job": "nightly"}, 6)
    done = _wait(client, batch.id, "completed", "failed")
    assert done.status == "completed"
    assert (done.request_counts.completed, done.request_counts.failed) == (5, 1)
    assert done.in_progress_at and done.finalizing_at and done.completed_at
    assert done.output_file_id and done.error_file_id

    output = [orjson.loads(x) for x in client.files.content(done.output_file_id).content.splitlines()]
    assert sorted(o["custom_id"] for o in output) == [f"ok-{i}" for i in range(5)]
    first = output[0]
    assert first["error"] is None and first["response"]["status_code"] == 200
    assert first["response"]["body"]["choices"][0]["message"]["content"] == "abc"
    assert first["response"]["request_id"].startswith("req_")
    errors = [orjson.loads(x) for x in client.files.content(done.error_file_id).content.splitlines()]
    assert [(e["custom_id"], e["response"]["status_code"]) for e in errors] == [("bad", 404)]
    assert errors[0]["error"]["code"] == "model_not_found"
    assert batch.id in [b.id for b in client.batches.list()]

    rows = []
    deadline = time.monotonic() + 10
    while len(rows) < 6 and time.monotonic() < deadline:  # the ledger is written off the hot path
        time.sleep(0.2)
        rows = _ledger(gateway, batch.id)
    assert sorted(status for _, status in rows) == [200] * 5 + [404]


def test_bad_input_is_refused_with_its_line(client: openai.OpenAI) -> None:
    lines = [_line("a", "m"), _line("a", "m")]
    uploaded = client.files.create(file=("dup.jsonl", io.BytesIO(_jsonl(lines))), purpose="batch")
    with pytest.raises(openai.BadRequestError) as caught:
        client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
    assert "Line 2" in caught.value.message and "custom_id" in caught.value.message
    wrong_url = [{**_line("x", "m"), "url": "/v1/embeddings"}]
    uploaded = client.files.create(file=("url.jsonl", io.BytesIO(_jsonl(wrong_url))), purpose="batch")
    with pytest.raises(openai.BadRequestError, match="url"):
        client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )


def test_another_organisation_gets_404_for_the_file_and_the_batch(
    client: openai.OpenAI, gateway: Gateway
) -> None:
    uploaded = client.files.create(file=("x.jsonl", io.BytesIO(_jsonl([_line("x", "m")]))), purpose="batch")
    batch = client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    other = openai.OpenAI(base_url=gateway.v1, api_key=gateway.create_key("rival")[1], max_retries=0)
    for call in (
        lambda: other.files.retrieve(uploaded.id),
        lambda: other.files.content(uploaded.id),
        lambda: other.files.delete(uploaded.id),
        lambda: other.batches.retrieve(batch.id),
        lambda: other.batches.cancel(batch.id),
        lambda: other.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        ),
    ):
        with pytest.raises(openai.NotFoundError):
            call()
    assert uploaded.id not in [f.id for f in other.files.list()]
    assert batch.id not in [b.id for b in other.batches.list()]
    _wait(client, batch.id, "completed")
    assert client.files.delete(uploaded.id).deleted
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(uploaded.id)


def test_a_gateway_stopped_mid_batch_finishes_it_after_a_restart_running_nothing_twice(
    client: openai.OpenAI, gateway: Gateway, engine: ScriptedEngine
) -> None:
    total = 60
    lines = [_line(f"r-{i}", "sleepy", f"restart-{i}") for i in range(total)]
    uploaded = client.files.create(file=("big.jsonl", io.BytesIO(_jsonl(lines))), purpose="batch")
    batch = client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    deadline = time.monotonic() + 30
    while client.batches.retrieve(batch.id).request_counts.completed < 10:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    gateway.stop()  # SIGTERM while it runs: the requests in flight finish and are committed
    stopped_at = Counter(_seen(engine))
    assert 10 <= len(stopped_at) < total  # stopped half way
    gateway.start()
    done = _wait(client, batch.id, "completed")
    assert (done.request_counts.completed, done.request_counts.failed) == (total, 0)
    seen = Counter(_seen(engine))
    assert sorted(seen) == sorted(f"restart-{i}" for i in range(total))
    assert set(seen.values()) == {1}  # no request reached the engine twice
    output = client.files.content(done.output_file_id).content.splitlines()
    assert sorted(orjson.loads(x)["custom_id"] for x in output) == sorted(f"r-{i}" for i in range(total))
    rows: list[tuple[str, int]] = []
    deadline = time.monotonic() + 10
    while len(rows) < total and time.monotonic() < deadline:
        time.sleep(0.2)
        rows = _ledger(gateway, batch.id)
    assert len(rows) == total and len({r for r, _ in rows}) == total  # one ledger row per request


def _seen(engine: ScriptedEngine) -> list[str]:
    texts = []
    for raw in list(engine.bodies):
        content = orjson.loads(raw).get("messages", [{}])[-1].get("content")
        if isinstance(content, str) and content.startswith("restart-"):
            texts.append(content)
    return texts


def test_cancel(client: openai.OpenAI, engine: ScriptedEngine) -> None:
    lines = [_line(f"g-{i}", "gated") for i in range(6)]
    uploaded = client.files.create(file=("gated.jsonl", io.BytesIO(_jsonl(lines))), purpose="batch")
    batch = client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    _wait(client, batch.id, "in_progress")
    cancelling = client.batches.cancel(batch.id)
    assert cancelling.status == "cancelling" and cancelling.cancelling_at
    time.sleep(1.0)  # the runner sees the cancel within its poll interval (0.2 s)
    engine.open_gate()  # the two in flight answer; nothing more is started
    done = _wait(client, batch.id, "cancelled")
    assert done.cancelled_at and done.request_counts.completed == 2  # the two in flight, no more
    again = client.batches.cancel(batch.id)
    assert again.status == "cancelled"
