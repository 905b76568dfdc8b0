"""The admission step in the real pipeline on port fakes: every way a request ends settles its
reservation to what was used, refusals are OpenAI's 429s, and a store that fails is obeyed as configured."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

import orjson
import pytest

from onshore.domain.catalog import Endpoint, ModelRoute
from onshore.domain.counters import Admission, Counter, CounterState, Reservation
from onshore.domain.keys import KeyDigester
from onshore.domain.limits import Limits, Price
from onshore.domain.tenancy import ApiKey
from onshore.errors import QuotaExceeded, RateLimited, ServiceUnavailable, UpstreamUnavailable
from onshore.gateway.auth import Authenticator, KeyCache
from onshore.gateway.chain import Handler
from onshore.gateway.context import RequestContext
from onshore.gateway.limit_book import LimitBook
from onshore.gateway.memory import MemoryCounterStore, RecordingTelemetry
from onshore.gateway.pipeline import build_pipeline
from onshore.gateway.routing import Router
from onshore.gateway.steps.admit import Admit, GuardedCounters
from onshore.ports import LimitsSnapshot, StoreError
from tests.support.fakes import FakeBackend, FakeClient, FakeReply, ListSink, ManualClock

DIGESTER = KeyDigester(b"x" * 32)
SECRET = "sk-onshore-" + "b" * 40
AUTH = {b"authorization": f"Bearer {SECRET}".encode()}
USAGE = {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}
PRICE = Price("m", date(2026, 1, 1), Decimal(1000), Decimal(3000))  # KRW per million tokens


def _ok() -> FakeReply:
    return FakeReply(200, orjson.dumps({"model": "m", "usage": USAGE, "choices": []}))


class FailingStore:
    def __init__(self) -> None:
        self.calls = 0

    async def reserve(self, counters: Sequence[Counter]) -> Admission:
        self.calls += 1
        raise StoreError("down")

    async def settle(self, reservation: Reservation, actual: Sequence[int]) -> None:
        raise StoreError("down")

    async def used(self, counters: Sequence[Counter]) -> tuple[CounterState, ...]:
        raise StoreError("down")

    async def raise_to(self, floors: Sequence[tuple[Counter, int]]) -> None:
        raise StoreError("down")

    def settle_later(self, reservation: Reservation, actual: Sequence[int]) -> None:
        raise StoreError("down")

    async def drain(self) -> None:
        return None


class Harness:
    def __init__(
        self,
        *replies: FakeReply | Exception,
        key: Limits | None = None,
        org: Limits | None = None,
        store: object | None = None,
        fail_open: bool = True,
    ) -> None:
        self.clock = ManualClock(datetime(2026, 12, 6, tzinfo=UTC))
        self.sink = ListSink()
        self.telemetry = RecordingTelemetry()
        self.book = LimitBook([PRICE])
        self.book.load(
            LimitsSnapshot(
                orgs={"org_1": org} if org else {}, keys={"key_1": key} if key else {}, prices=[], version=1
            )
        )
        self.store = store if store is not None else MemoryCounterStore(self.clock)
        self.backend = FakeBackend("a", *(replies or (_ok(),)))
        router = Router([self.backend], [ModelRoute("m", "m", "a")], self.clock)
        cache = KeyCache()
        cache.apply([ApiKey("key_1", "org_1", "k", DIGESTER.digest(SECRET), SECRET[:16], self.clock.now())])
        guard = GuardedCounters(
            self.store,  # type: ignore[arg-type]
            fail_open=fail_open,
            retry_s=1.0,
            clock=self.clock,
            telemetry=self.telemetry,
        )
        admit = Admit(
            self.book, guard, self.clock, self.telemetry, default_max_tokens=100, prompt_bytes_per_token=3.0
        )
        self.pipeline: Handler = build_pipeline(
            authenticator=Authenticator(DIGESTER, cache),
            router=router,
            sink=self.sink,
            telemetry=self.telemetry,
            clock=self.clock,
            max_body_bytes=1 << 20,
            drain_s=0.1,
            pricing=self.book,
            admission=[admit],
        )

    async def run(self, body: dict[str, object] | None = None) -> tuple[RequestContext, FakeClient]:
        client = FakeClient(orjson.dumps(body or chat()), AUTH)
        ctx = RequestContext("req", Endpoint.CHAT, client, self.clock.monotonic(), self.clock.now())
        await self.pipeline(ctx)
        return ctx, client

    async def used(self, key: str, window_ms: int = 60_000) -> int:
        store = self.store
        assert isinstance(store, MemoryCounterStore)
        (state,) = await store.used([Counter(key, 0, 10**12, window_ms)])
        return state.used


def chat(**extra: object) -> dict[str, object]:
    return {"model": "m", "messages": [{"role": "user", "content": "hi"}], **extra}


async def test_a_partner_without_limits_passes_untouched() -> None:
    h = Harness()
    _, client = await h.run()
    # no rate-limit headers: only where it was served
    assert client.status == 200 and client.headers == ((b"x-onshore-jurisdiction", b"KR"),)


async def test_requests_per_minute_admit_exactly_the_limit_then_429_with_headers() -> None:
    h = Harness(_ok(), key=Limits(rpm=2))
    for remaining in (b"1", b"0"):
        _, client = await h.run()
        headers = dict(client.headers)
        assert headers[b"x-ratelimit-limit-requests"] == b"2"
        assert headers[b"x-ratelimit-remaining-requests"] == remaining
        assert headers[b"x-ratelimit-reset-requests"].endswith(b"s")
    with pytest.raises(RateLimited) as refused:
        await h.run()
    assert refused.value.code == "rate_limit_exceeded"
    assert dict(refused.value.headers)[b"retry-after"] == b"60"
    assert [row.status for row in h.sink.rows] == [200, 200, 429]
    assert h.telemetry.limited == [("key", "rpm")]
    assert len(h.backend.calls) == 2  # the refused request never reached the engine
    h.clock.advance(60)
    _, client = await h.run()
    assert client.status == 200


async def test_tokens_settle_to_what_the_engine_reported() -> None:
    h = Harness(key=Limits(tpm=10_000))
    await h.run(chat(max_tokens=50))
    assert await h.used("{org_1}:k:key_1:tpm") == 6


async def test_an_upstream_failure_gives_the_tokens_back_but_counts_the_request() -> None:
    h = Harness(UpstreamUnavailable(), key=Limits(rpm=10, tpm=10_000))
    with pytest.raises(UpstreamUnavailable):
        await h.run(chat(max_tokens=50))
    assert await h.used("{org_1}:k:key_1:tpm") == 0
    assert await h.used("{org_1}:k:key_1:rpm") == 1


async def test_a_client_that_leaves_mid_stream_pays_only_for_what_it_read() -> None:
    chunk = b'data: {"choices":[{"delta":{"content":"x"}}]}\n\n'
    gate = asyncio.Event()

    class Slow(FakeReply):
        async def chunks(self):  # type: ignore[no-untyped-def]
            yield chunk
            yield chunk
            await gate.wait()
            yield b"data: [DONE]\n\n"

    h = Harness(Slow(200, b""), key=Limits(tpm=10_000))
    client = FakeClient(orjson.dumps(chat(stream=True, max_tokens=500)), AUTH)
    ctx = RequestContext("req", Endpoint.CHAT, client, h.clock.monotonic(), h.clock.now())
    task = asyncio.ensure_future(h.pipeline(ctx))
    for _ in range(1000):  # until two events reached the client
        if len(client.sent) >= 2:
            break
        await asyncio.sleep(0)
    client.leave()
    with pytest.raises(BaseException):
        await task
    used = await h.used("{org_1}:k:key_1:tpm")
    assert 0 < used < 500  # the estimate from what was relayed, not the reservation


async def test_concurrency_is_released_when_the_request_ends() -> None:
    gate = asyncio.Event()

    class Held(FakeReply):
        async def read(self) -> bytes:
            await gate.wait()
            return await super().read()

    body = orjson.dumps({"model": "m", "usage": USAGE, "choices": []})
    h = Harness(Held(200, body), key=Limits(max_concurrent=1))
    first = asyncio.create_task(h.run())
    await asyncio.sleep(0.01)
    with pytest.raises(RateLimited) as refused:
        await h.run()
    assert "concurrent" in refused.value.message
    gate.set()
    await first
    _, client = await h.run()
    assert client.status == 200


async def test_a_spent_budget_is_insufficient_quota_and_never_overspent() -> None:
    # 4 prompt tokens at 1,000 KRW/M + 2 completion at 3,000 KRW/M = 10,000 micro-won per request;
    # each reserves its estimate (the body's bytes / 3 as prompt tokens, plus max_tokens) first.
    h = Harness(org=Limits(monthly_budget_krw=1))
    with pytest.raises(QuotaExceeded) as refused:
        for _ in range(200):
            await h.run(chat(max_tokens=2))
    assert refused.value.code == "insufficient_quota"
    assert dict(refused.value.headers)[b"x-should-retry"] == b"false"
    assert "Limit KRW 1, Used KRW 0.98" in refused.value.message
    billed = [row.cost_micro_krw for row in h.sink.rows if row.status == 200]
    assert set(billed) == {10_000}
    spent = sum(billed)  # type: ignore[arg-type]
    reservation = 31_000  # micro-won: 25 estimated prompt tokens and 2 output tokens
    assert 1_000_000 - reservation < spent <= 1_000_000


async def test_fail_open_admits_unchecked_and_leaves_the_store_alone_for_a_while() -> None:
    store = FailingStore()
    h = Harness(key=Limits(rpm=1), store=store, fail_open=True)
    for _ in range(3):
        _, client = await h.run()
        assert client.status == 200
    assert store.calls == 1  # decided at once after the first failure
    assert h.telemetry.unavailable == ["open"] * 3
    h.clock.advance(1.5)
    await h.run()
    assert store.calls == 2  # tried again: recovers by itself


async def test_fail_closed_refuses_with_503() -> None:
    h = Harness(key=Limits(rpm=1), store=FailingStore(), fail_open=False)
    with pytest.raises(ServiceUnavailable) as refused:
        await h.run()
    assert refused.value.code == "limits_unavailable" and refused.value.status == 503
    assert h.sink.rows[-1].status == 503
