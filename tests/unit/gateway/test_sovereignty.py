"""Residency and the personal-data policy in the pipeline, on port fakes: the very chain that serves
partners (``build_pipeline``), with backends in two jurisdictions."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from onshore.domain.audit import AuditEntry
from onshore.domain.catalog import Endpoint, ModelRoute
from onshore.domain.keys import KeyDigester
from onshore.domain.policy import PiiMode, SubjectPolicy
from onshore.domain.tenancy import ApiKey
from onshore.errors import PiiDetected, PiiUnavailable, ResidencyRefused, ResidencyUnavailable
from onshore.gateway import personal_data
from onshore.gateway.context import RequestContext
from onshore.gateway.limit_book import LimitBook
from onshore.gateway.memory import RecordingTelemetry
from onshore.gateway.pipeline import build_pipeline
from onshore.gateway.routing import Router
from onshore.gateway.steps.sovereignty import Sovereignty
from onshore.pii import EntityType
from onshore.ports import LimitsSnapshot
from tests.support.fakes import FakeBackend, FakeClient, FakeReply, ListSink, ManualClock

DIGESTER = KeyDigester(b"x" * 32)
SECRET = "sk-onshore-" + "b" * 40
AUTH = {b"authorization": f"Bearer {SECRET}".encode()}
RRN = "900101-1234568"
PHONE = "010-1234-5678"
USAGE = {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}


class AuditList:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    def append(self, entry: AuditEntry) -> None:
        self.entries.append(entry)


class Harness:
    def __init__(
        self,
        *backends: tuple[FakeBackend, str],
        org: SubjectPolicy | None = None,
        key: SubjectPolicy | None = None,
    ) -> None:
        from onshore.gateway.auth import Authenticator, KeyCache

        self.clock = ManualClock()
        self.sink = ListSink()
        self.telemetry = RecordingTelemetry()
        self.audit = AuditList()
        routes = [ModelRoute("m", "m", b.name, jurisdiction=j) for b, j in backends]
        self.router = Router([b for b, _ in backends], routes, self.clock)
        self.book = LimitBook(home="KR")
        self.book.load(
            LimitsSnapshot(
                orgs={},
                keys={},
                prices=(),
                version=1,
                org_policies={"org_1": org} if org else {},
                key_policies={"key_1": key} if key else {},
            )
        )
        cache = KeyCache()
        now = datetime(2026, 1, 1, tzinfo=UTC)
        cache.apply([ApiKey("key_1", "org_1", "k", DIGESTER.digest(SECRET), SECRET[:16], now)], now=now)
        self.pipeline = build_pipeline(
            authenticator=Authenticator(DIGESTER, cache),
            router=self.router,
            sink=self.sink,
            telemetry=self.telemetry,
            clock=self.clock,
            max_body_bytes=1 << 20,
            sovereignty=Sovereignty(self.book.policy, self.router, self.audit, self.telemetry),
        )

    async def run(
        self, body: dict[str, object], endpoint: Endpoint = Endpoint.CHAT
    ) -> tuple[RequestContext, FakeClient]:
        client = FakeClient(orjson.dumps(body), AUTH)
        ctx = RequestContext("req_1", endpoint, client, self.clock.monotonic(), self.clock.now())
        await self.pipeline(ctx)
        return ctx, client


def chat(text: str = "hi", stream: bool = False) -> dict[str, object]:
    return {"model": "m", "messages": [{"role": "user", "content": text}], "stream": stream}


def ok(content: str = "fine") -> FakeReply:
    return FakeReply(
        200, orjson.dumps({"model": "m", "usage": USAGE, "choices": [{"message": {"content": content}}]})
    )


def stream_reply(*pieces: str) -> FakeReply:
    events = [
        b"data: "
        + orjson.dumps(
            {"model": "m", "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}
        )
        + b"\n\n"
        for p in pieces
    ]
    end = orjson.dumps({"model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    usage = orjson.dumps({"model": "m", "choices": [], "usage": USAGE})
    return FakeReply(
        200, chunks=[*events, b"data: " + end + b"\n\n", b"data: " + usage + b"\n\n", b"data: [DONE]\n\n"]
    )


def streamed_text(client: FakeClient) -> str:
    text = ""
    for line in client.text.split(b"\n"):
        if line.startswith(b"data: {"):
            for choice in orjson.loads(line[6:]).get("choices", []):
                text += choice.get("delta", {}).get("content") or ""
    return text


def sent_body(backend: FakeBackend, index: int = 0) -> bytes:
    return backend.calls[index].body


# --- residency ------------------------------------------------------------------------------------


async def test_an_organisation_without_jurisdictions_stays_in_the_gateways_own() -> None:
    kr, jp = FakeBackend("kr", *[ok() for _ in range(8)]), FakeBackend("jp", ok())
    h = Harness((kr, "KR"), (jp, "JP"))
    for _ in range(8):
        _, client = await h.run(chat())
        assert client.status == 200
        assert (b"x-onshore-jurisdiction", b"KR") in client.extra_headers
    assert len(kr.calls) == 8 and jp.calls == []
    assert {row.jurisdiction for row in h.sink.rows} == {"KR"}
    assert {row.backend for row in h.sink.rows} == {"kr"}


async def test_a_key_narrows_its_organisations_jurisdictions() -> None:
    kr, jp = FakeBackend("kr", ok()), FakeBackend("jp", *[ok() for _ in range(4)])
    h = Harness(
        (kr, "KR"),
        (jp, "JP"),
        org=SubjectPolicy(jurisdictions=("JP", "KR")),
        key=SubjectPolicy(jurisdictions=("JP",)),
    )
    for _ in range(4):
        await h.run(chat())
    assert kr.calls == [] and len(jp.calls) == 4
    assert {row.jurisdiction for row in h.sink.rows} == {"JP"}


async def test_no_allowed_backend_for_the_model_is_403_and_reaches_no_backend() -> None:
    jp = FakeBackend("jp", ok())
    h = Harness((jp, "JP"))
    with pytest.raises(ResidencyRefused) as info:
        await h.run(chat())
    assert info.value.status == 403 and info.value.code == "residency_unavailable"
    assert jp.calls == []
    (row,) = h.sink.rows
    assert (row.status, row.error_code, row.backend, row.jurisdiction) == (
        403,
        "residency_unavailable",
        None,
        None,
    )
    (entry,) = h.audit.entries
    assert entry.action == "residency.refuse" and entry.detail["allowed"] == ["KR"]
    assert h.telemetry.residency == ["m"]


async def test_allowed_backends_down_is_503_never_a_fallback_abroad() -> None:
    from onshore.errors import UpstreamUnavailable

    kr = FakeBackend("kr", UpstreamUnavailable(), UpstreamUnavailable(), UpstreamUnavailable())
    jp = FakeBackend("jp", ok(), ok(), ok())
    h = Harness((kr, "KR"), (jp, "JP"))
    for _ in range(3):  # the first marks "kr" down; later ones find it down and still never go abroad
        with pytest.raises(ResidencyUnavailable) as info:
            await h.run(chat())
        assert info.value.status == 503 and info.value.code == "residency_unavailable"
    assert jp.calls == []
    assert [row.error_code for row in h.sink.rows] == ["residency_unavailable"] * 3
    assert [e.action for e in h.audit.entries] == ["residency.unavailable"] * 3
    assert h.telemetry.residency == ["m"] * 3


async def test_failover_stays_inside_the_allowed_jurisdictions() -> None:
    from onshore.errors import UpstreamUnavailable

    kr1, kr2 = FakeBackend("kr1", UpstreamUnavailable()), FakeBackend("kr2", ok())
    jp = FakeBackend("jp", ok())
    h = Harness((kr1, "KR"), (kr2, "KR"), (jp, "JP"))
    h.router.choose("m", allowed=frozenset({"KR"}))  # whichever goes first, the answer comes from kr2
    for _ in range(2):
        _, client = await h.run(chat())
        assert client.status == 200
    assert jp.calls == [] and len(kr2.calls) >= 1


# --- personal data ------------------------------------------------------------------------------


def pii(mode: PiiMode, **extra: object) -> SubjectPolicy:
    return SubjectPolicy(pii_mode=mode, **extra)  # type: ignore[arg-type]


async def test_block_refuses_naming_the_types_never_the_values() -> None:
    kr = FakeBackend("kr", ok())
    h = Harness((kr, "KR"), org=pii(PiiMode.BLOCK))
    with pytest.raises(PiiDetected) as info:
        await h.run(chat(f"내 주민번호는 {RRN}이고 전화는 {PHONE}입니다"))
    assert info.value.status == 400 and info.value.code == "pii_detected"
    assert "KR_RRN" in info.value.message and "KR_PHONE" in info.value.message
    assert RRN not in info.value.message and PHONE not in info.value.message
    assert kr.calls == []
    (row,) = h.sink.rows
    assert row.pii_counts == {"KR_RRN": 1, "KR_PHONE": 1} and row.error_code == "pii_detected"
    (entry,) = h.audit.entries
    assert entry.action == "pii.block" and RRN not in orjson.dumps(dict(entry.detail)).decode()


async def test_block_only_the_listed_types() -> None:
    kr = FakeBackend("kr", ok())
    h = Harness((kr, "KR"), org=pii(PiiMode.BLOCK, pii_types=(EntityType.KR_RRN,)))
    _, client = await h.run(chat(f"전화 {PHONE}"))
    assert client.status == 200 and len(kr.calls) == 1


async def test_detect_counts_and_forwards_unchanged() -> None:
    kr = FakeBackend("kr", ok())
    h = Harness((kr, "KR"), org=pii(PiiMode.DETECT))
    body = chat(f"주민번호 {RRN}")
    await h.run(body)
    assert RRN.encode() in sent_body(kr)
    assert h.sink.rows[0].pii_counts == {"KR_RRN": 1}
    assert h.telemetry.pii == {("KR_RRN", "detect"): 1}
    assert h.audit.entries == []  # nothing refused or changed


async def test_redact_sends_placeholders_and_restores_the_originals_in_the_answer() -> None:
    kr = FakeBackend("kr", ok("고객 [KR_RRN_1] 님, [KR_PHONE_1]로 연락드리겠습니다"))
    h = Harness((kr, "KR"), key=pii(PiiMode.REDACT, pii_restore=True))
    _, client = await h.run(chat(f"주민번호 {RRN}, 전화 {PHONE}, 다시 {RRN}"))
    sent = sent_body(kr).decode()
    assert RRN not in sent and PHONE not in sent
    assert sent.count("[KR_RRN_1]") == 2 and "[KR_PHONE_1]" in sent  # the same value, the same name
    answer = orjson.loads(client.text)["choices"][0]["message"]["content"]
    assert answer == f"고객 {RRN} 님, {PHONE}로 연락드리겠습니다"
    (entry,) = h.audit.entries
    assert entry.action == "pii.redact" and entry.detail["types"] == {"KR_RRN": 2, "KR_PHONE": 1}


async def test_redact_without_restore_leaves_the_placeholders() -> None:
    kr = FakeBackend("kr", ok("[KR_RRN_1] 확인"))
    h = Harness((kr, "KR"), org=pii(PiiMode.REDACT))
    _, client = await h.run(chat(f"{RRN}"))
    assert orjson.loads(client.text)["choices"][0]["message"]["content"] == "[KR_RRN_1] 확인"


@pytest.mark.parametrize("split", [1, 3, 5, 9])
async def test_restore_in_a_stream_with_the_placeholder_split_across_chunks(split: int) -> None:
    answer = "번호는 [KR_RRN_1] 입니다"
    at = answer.index("[") + split
    kr = FakeBackend("kr", stream_reply(answer[:at], answer[at:]))
    h = Harness((kr, "KR"), org=pii(PiiMode.REDACT, pii_restore=True))
    _, client = await h.run(chat(f"주민번호 {RRN}", stream=True))
    assert RRN.encode() not in sent_body(kr)
    assert streamed_text(client) == f"번호는 {RRN} 입니다"
    assert h.sink.rows[0].total_tokens == 6


async def test_redact_output_scans_the_answer_before_restoring() -> None:
    invented = "800101-2345671"  # not the partner's: the model made it up
    kr = FakeBackend("kr", stream_reply("원래 [KR_RRN_1], 새 번호 800101-", "2345671 끝"))
    h = Harness((kr, "KR"), org=pii(PiiMode.REDACT, pii_restore=True, pii_redact_output=True))
    _, client = await h.run(chat(f"주민번호 {RRN}", stream=True))
    text = streamed_text(client)
    assert text == f"원래 {RRN}, 새 번호 [KR_RRN] 끝" and invented not in text
    assert h.sink.rows[0].pii_counts == {"KR_RRN": 1, "output:KR_RRN": 1}


async def test_content_parts_and_embeddings_are_redacted() -> None:
    kr = FakeBackend("kr", ok(), FakeReply(200, orjson.dumps({"data": [], "usage": USAGE})))
    h = Harness((kr, "KR"), org=pii(PiiMode.REDACT))
    parts = {
        "model": "m",
        "messages": [{"role": "user", "content": [{"type": "text", "text": f"전화 {PHONE}"}]}],
    }
    await h.run(parts)
    await h.run({"model": "m", "input": ["안녕", f"주민 {RRN}"]}, Endpoint.EMBEDDINGS)
    assert PHONE.encode() not in sent_body(kr, 0) and b"[KR_PHONE_1]" in sent_body(kr, 0)
    assert RRN.encode() not in sent_body(kr, 1) and b"[KR_RRN_1]" in sent_body(kr, 1)


async def test_a_detector_failure_refuses_the_request(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        def scan(self, text: str) -> list[object]:
            raise RuntimeError(f"boom on {text}")

    monkeypatch.setattr(personal_data, "detector_for", lambda types: Broken())
    kr = FakeBackend("kr", ok())
    h = Harness((kr, "KR"), org=pii(PiiMode.REDACT))
    with pytest.raises(PiiUnavailable) as info:
        await h.run(chat(f"{RRN}"))
    assert info.value.status == 503 and RRN not in info.value.message
    assert kr.calls == []


async def test_tool_call_arguments_get_the_originals_back() -> None:
    call = {
        "id": "c1",
        "type": "function",
        "function": {"name": "lookup", "arguments": '{"rrn": "[KR_RRN_1]"}'},
    }
    reply = FakeReply(
        200,
        orjson.dumps(
            {"model": "m", "usage": USAGE, "choices": [{"message": {"content": None, "tool_calls": [call]}}]}
        ),
    )
    kr = FakeBackend("kr", reply)
    h = Harness((kr, "KR"), org=pii(PiiMode.REDACT, pii_restore=True))
    _, client = await h.run(chat(f"주민번호 {RRN} 조회"))
    (got,) = orjson.loads(client.text)["choices"][0]["message"]["tool_calls"]
    assert orjson.loads(got["function"]["arguments"]) == {"rrn": RRN}


async def test_streamed_tool_call_arguments_are_restored_across_chunks() -> None:
    pieces = ['{"rrn": "[KR_', 'RRN_1]"}']
    events = [
        b"data: "
        + orjson.dumps(
            {
                "model": "m",
                "choices": [
                    {
                        "index": 0,
                        "delta": {"tool_calls": [{"index": 0, "function": {"arguments": p}}]},
                        "finish_reason": None,
                    }
                ],
            }
        )
        + b"\n\n"
        for p in pieces
    ]
    end = orjson.dumps({"model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
    kr = FakeBackend("kr", FakeReply(200, chunks=[*events, b"data: " + end + b"\n\n", b"data: [DONE]\n\n"]))
    h = Harness((kr, "KR"), org=pii(PiiMode.REDACT, pii_restore=True))
    _, client = await h.run(chat(f"주민번호 {RRN}", stream=True))
    arguments = ""
    for line in client.text.split(b"\n"):
        if line.startswith(b"data: {"):
            for choice in orjson.loads(line[6:]).get("choices", []):
                for tool in choice.get("delta", {}).get("tool_calls") or []:
                    arguments += tool["function"]["arguments"]
    assert orjson.loads(arguments) == {"rrn": RRN}
