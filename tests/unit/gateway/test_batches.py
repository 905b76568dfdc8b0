"""A batch's request through the composed pipeline (the owner's key checked again, the ledger row
marked), the input file's checks, and the pieces the API and the runner share."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

from onshore.api.multipart import parse_form
from onshore.domain.catalog import Endpoint
from onshore.domain.limits import Tier
from onshore.domain.tenancy import Principal
from onshore.errors import AuthenticationFailed, InvalidRequest, PayloadTooLarge
from onshore.gateway.batch_channel import BatchChannel
from onshore.gateway.batch_input import check_input, read_requests
from onshore.gateway.batch_lines import result_line
from onshore.gateway.context import RequestContext
from onshore.gateway.request_body import parse_body
from onshore.gateway.steps.schedule import Schedule
from onshore.store.file_store import LocalFileStore
from tests.support.fakes import FakeBackend, FakeReply
from tests.unit.gateway.test_pipeline import USAGE, Harness, chat


def authenticator_cache_principal(h: Harness) -> Principal:
    principal = h.cache.principal_for("key_1")
    assert principal is not None
    return principal


async def test_a_batch_request_runs_the_pipeline_with_its_owner_and_is_marked_on_the_ledger() -> None:
    reply = FakeReply(200, orjson.dumps({"model": "up", "usage": USAGE, "choices": []}))
    h = Harness(FakeBackend("a", reply), upstream_name="up")
    channel = BatchChannel(orjson.dumps(chat()))
    ctx = RequestContext(
        "req_b",
        Endpoint.CHAT,
        channel,
        h.clock.monotonic(),
        h.clock.now(),
        principal=authenticator_cache_principal(h),
        batch_id="batch_1",
    )
    await h.pipeline(ctx)
    assert channel.status == 200 and orjson.loads(channel.body)["model"] == "m"
    (row,) = h.sink.rows
    assert (row.batch_id, row.org_id, row.status, row.total_tokens) == ("batch_1", "org_1", 200, 6)
    h.assert_released()


async def test_a_batch_request_of_a_revoked_key_is_refused() -> None:
    backend = FakeBackend("a", FakeReply(200, b"{}"))
    h = Harness(backend)
    principal = authenticator_cache_principal(h)
    h.cache.forget("key_1")
    ctx = RequestContext(
        "req_b",
        Endpoint.CHAT,
        BatchChannel(orjson.dumps(chat())),
        h.clock.monotonic(),
        h.clock.now(),
        principal=principal,
        batch_id="batch_1",
    )
    with pytest.raises(AuthenticationFailed):
        await h.pipeline(ctx)
    assert backend.calls == [] and h.sink.rows[0].status == 401


def _line(custom_id: str, **extra: object) -> bytes:
    line = {"custom_id": custom_id, "method": "POST", "url": "/v1/embeddings", "body": {"input": "x"}}
    return orjson.dumps({**line, **extra}) + b"\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (_line("a") + b"{not json\n", "Line 2: This line is not valid JSON."),
        (_line("a") + _line("a"), "Line 2: The custom_id is used by an earlier line"),
        (_line("a", method="GET"), "Line 1: The 'method' must be 'POST'."),
        (_line("a", url="/v1/chat/completions"), "Line 1: The 'url' must be the batch's endpoint"),
        (_line("a", body=[1]), "Line 1: The 'body' must be a JSON object."),
        (_line("a", body={"stream": True}), "Line 1: Streaming is not supported in a batch."),
        (b"[1]\n", "Line 1: Each line must be a JSON object."),
        (_line(""), "Line 1: Each line needs a 'custom_id' string."),
        (b"\n\n", "The input file has no requests."),
        (_line("a") + _line("b") + _line("c"), "Line 3: The file has more than 2 requests."),
    ],
)
def test_bad_input_is_named_by_its_line(content: bytes, message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_input(io.BytesIO(content), "/v1/embeddings", max_requests=2)
    assert caught.value.message.startswith(message)


def test_requests_are_read_back_by_index_skipping_blank_lines() -> None:
    content = _line("a") + b"\n" + _line("b") + _line("c")
    assert check_input(io.BytesIO(content), "/v1/embeddings", 10) == ["a", "b", "c"]
    got = list(read_requests(io.BytesIO(content), {0, 2}))
    assert [(i, c, orjson.loads(b)) for i, c, b in got] == [
        (0, "a", {"input": "x"}),
        (2, "c", {"input": "x"}),
    ]


def test_result_lines_have_openais_shape() -> None:
    ok = result_line(3, "a", "req_1", 200, b'{"id":"x"}')
    line = orjson.loads(ok.result)
    assert (ok.line, ok.failed) == (3, False)
    assert line["response"] == {"status_code": 200, "request_id": "req_1", "body": {"id": "x"}}
    assert line["error"] is None and line["custom_id"] == "a" and line["id"].startswith("batch_req_")
    bad = result_line(4, "b", "req_2", 404, b'{"error":{"message":"no such model","code":"model_not_found"}}')
    assert bad.failed
    assert orjson.loads(bad.result)["error"] == {"code": "model_not_found", "message": "no such model"}


def test_multipart_as_the_sdk_sends_it() -> None:
    body = (
        b'--xyz\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
        b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="in.jsonl"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\nline1\r\nline2\n\r\n--xyz--\r\n"
    )
    form = parse_form(b"multipart/form-data; boundary=xyz", body)
    assert form.fields == {"purpose": "batch"} and form.filename == "in.jsonl"
    assert form.file is not None and bytes(form.file) == b"line1\r\nline2\n"
    with pytest.raises(InvalidRequest):
        parse_form(b"application/json", body)
    with pytest.raises(InvalidRequest):
        parse_form(b"multipart/form-data; boundary=xyz", body[:60])


def test_the_file_store_keeps_nothing_of_a_file_over_the_limit(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path)
    assert store.write("org_1", "file-1", io.BytesIO(b"12345"), limit=5) == 5
    with pytest.raises(PayloadTooLarge):
        store.write("org_1", "file-2", io.BytesIO(b"123456"), limit=5)
    assert sorted(p.name for p in (tmp_path / "org_1").iterdir()) == ["file-1"]
    with store.open("org_1", "file-1") as source:
        assert source.read() == b"12345"
    with pytest.raises(ValueError, match="not a file store name"):
        store.open("../org_2", "file-1")
    store.delete("org_1", "file-1")
    store.delete("org_1", "file-1")  # already gone is fine
    with pytest.raises(FileNotFoundError):
        store.open("org_1", "file-1")


class _RecordingQueue:
    def __init__(self) -> None:
        self.tiers: list[tuple[Tier, bool]] = []

    def slot(self, model: str, org_id: str, tier: Tier, cost_tokens: int, *, background: bool) -> _Slot:
        self.tiers.append((tier, background))
        return _Slot()


class _Slot:
    async def __aenter__(self) -> _Slot:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def charge(self, tokens: int) -> None:
        return None


class _Book:
    def tier(self, org_id: str) -> Tier:
        return Tier.PRIORITY


async def test_a_batch_request_waits_in_the_background_lane_and_batch_tier_whatever_its_organisations() -> (
    None
):
    queue = _RecordingQueue()
    step = Schedule(queue, _Book(), prompt_bytes_per_token=3.0)  # type: ignore[arg-type]
    h = Harness(FakeBackend("a", FakeReply(200, b"{}")))
    for batch_id in ("batch_1", None):
        ctx = RequestContext("req", Endpoint.CHAT, BatchChannel(b"{}"), 0.0, h.clock.now(), batch_id=batch_id)
        ctx.principal = authenticator_cache_principal(h)
        ctx.body = parse_body(orjson.dumps(chat()), Endpoint.CHAT)
        ctx.model = "m"

        async def served(ctx: RequestContext) -> None:
            return None

        await step(ctx, served)
    assert queue.tiers == [(Tier.BATCH, True), (Tier.PRIORITY, False)]
