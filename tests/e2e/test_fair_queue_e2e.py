"""The fair queue through the real gateway: a real `onshore serve`, real HTTP clients, an engine with a
fixed service time, and the shares, latencies, deadlines and metrics a partner would see.

The model's capacity (`max_in_flight`) is small, so the gateway, not the engine, decides who goes next.
Every figure is asserted with a tolerance that holds on a shared 2-core box yet fails a FIFO queue (or
one fair in requests rather than tokens) by a wide margin.
"""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from tests.support.scripted_engine import ScriptedEngine
from tests.support.services import Gateway, Upstream, make_gateway, start_upstream, stop

SERVICE_S = 0.04  # the upstream answers every non-streamed request after exactly this long
CAPACITY = 2  # max_in_flight of the queued models
MESSAGES = [{"role": "user", "content": "Say something short."}]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fixed_upstream() -> Iterator[Upstream]:
    up = start_upstream(tokens=16, extra=["--ttft-ms", str(SERVICE_S * 1000)])
    yield up
    stop(up.proc)


@pytest.fixture(scope="module")
def gated_engine() -> Iterator[ScriptedEngine]:
    engine = ScriptedEngine().start()
    yield engine
    engine.stop()


@pytest.fixture(scope="module")
def gw(
    fixed_upstream: Upstream, gated_engine: ScriptedEngine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """Two queued models on the fixed-time upstream (one per saturation test, so neither sees the
    other's leftovers) and one place on the scripted engine for the disconnect test."""
    gateway = make_gateway(
        tmp_path_factory.mktemp("fair-queue"),
        [
            {
                "name": "fixed",
                "url": fixed_upstream.url,
                "models": [
                    {"name": "fair-equal", "max_in_flight": CAPACITY},
                    {"name": "fair-tiers", "max_in_flight": CAPACITY},
                ],
            },
            {"name": "scripted", "url": gated_engine.url, "models": [{"name": "gated", "max_in_flight": 1}]},
        ],
        extra={"scheduling": {"queue_timeout_s": 60.0}, "ledger": {"flush_interval_s": 0.05}},
    )
    gateway.start()
    yield gateway
    gateway.stop()


class Admin:
    """Organisations, keys and tiers through the admin API: no CLI process per key, and a key or a
    tier set this way is in force on this replica as soon as the call returns."""

    def __init__(self, gw: Gateway) -> None:
        self._base = gw.base_url + "/admin/v1"
        self._headers = {"Authorization": f"Bearer {gw.admin_token}"}

    def org(self, prefix: str, tier: str | None = None) -> tuple[str, str]:
        """A new organisation (unique name from ``prefix``) at ``tier``: (its name, a key)."""
        org = f"{prefix}-{uuid.uuid4().hex[:6]}"
        created = httpx.post(self._base + "/orgs", json={"name": org}, headers=self._headers)
        assert created.status_code == 201, created.text
        if tier is not None:
            limits = httpx.put(self._base + f"/orgs/{org}/limits", json={"tier": tier}, headers=self._headers)
            assert limits.status_code == 200, limits.text
        key = httpx.post(self._base + "/keys", json={"org": org}, headers=self._headers)
        assert key.status_code == 201, key.text
        return org, str(key.json()["key"])


# --- closed-loop load -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    org: str
    latency: float
    done: float
    tokens: int


@dataclass(frozen=True)
class Window:
    """What was answered between the end of the warm-up and the end of the run."""

    answers: list[Answer]
    seconds: float

    def tokens(self, org: str) -> int:
        return sum(a.tokens for a in self.answers if a.org == org)

    def share(self, org: str) -> float:
        return self.tokens(org) / sum(a.tokens for a in self.answers)

    def mean_tokens(self, org: str) -> float:
        return statistics.mean(a.tokens for a in self.answers if a.org == org)

    def latencies(self, org: str) -> list[float]:
        return sorted(a.latency for a in self.answers if a.org == org)

    @property
    def service_s(self) -> float:
        """The service time the gateway actually achieved: capacity x window / answers. It is the
        fixed upstream delay plus the gateway's own time per request on this (shared) machine."""
        return CAPACITY * self.seconds / len(self.answers)


def _pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


@dataclass(frozen=True)
class Load:
    key: str
    loops: int
    padding: int = 0  # characters added to the prompt: the engine counts ~4 a token


async def _closed_loop(
    client: httpx.AsyncClient, org: str, load: Load, model: str, out: list[Answer]
) -> None:
    content = MESSAGES[0]["content"] + " " + "x" * load.padding
    body = {"model": model, "messages": [{"role": "user", "content": content}]}
    headers = {"Authorization": f"Bearer {load.key}"}
    while True:
        sent = time.monotonic()
        response = await client.post("/chat/completions", json=body, headers=headers)
        done = time.monotonic()
        assert response.status_code == 200, response.text
        out.append(Answer(org, done - sent, done, response.json()["usage"]["total_tokens"]))


async def _saturate(
    gw: Gateway, model: str, loads: dict[str, Load], warm_up: float, seconds: float
) -> Window:
    """Run ``loops`` closed-loop clients per organisation (send, wait for the answer, send again) and
    keep the answers completed inside the measured window. The loops are cancelled at its end: the
    gateway sees clients that leave, so it must also give back every place and every waiter."""
    answers: list[Answer] = []
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=gw.v1, timeout=60.0, limits=limits) as client:
        tasks = [
            asyncio.create_task(_closed_loop(client, org, load, model, answers))
            for org, load in loads.items()
            for _ in range(load.loops)
        ]
        start = time.monotonic()
        await asyncio.sleep(warm_up + seconds)
        for task in tasks:
            task.cancel()
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if not isinstance(result, asyncio.CancelledError):
                raise AssertionError(f"a client failed: {result!r}")
    begin, end = start + warm_up, start + warm_up + seconds
    return Window([a for a in answers if begin <= a.done < end], seconds)


# --- metrics and ledger ---------------------------------------------------------------------------


def _metrics(gw: Gateway) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = httpx.get(gw.base_url + "/metrics").text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _metric(gw: Gateway, name: str, **labels: str) -> float | None:
    """The sample of ``name`` whose labels include ``labels`` (None when there is none)."""
    want = set(labels.items())
    found = [v for (n, ls), v in _metrics(gw).items() if n == name and want <= ls]
    assert len(found) <= 1, f"{name}{labels} matches several samples"
    return found[0] if found else None


def _wait_for(check: Callable[[], bool], what: str, timeout: float = 10.0) -> float:
    """Poll ``check()`` until it is true; returns the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def _ledger_row(gw: Gateway, client_request_id: str, timeout: float = 10.0) -> dict[str, Any]:
    engine = sa.create_engine(f"sqlite:///{gw.data_dir / 'onshore.db'}")
    query = sa.text("SELECT * FROM usage_records WHERE client_request_id = :c")
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                rows = [dict(r._mapping) for r in conn.execute(query, {"c": client_request_id})]
            if rows:
                assert len(rows) == 1
                return rows[0]
            time.sleep(0.05)
    finally:
        engine.dispose()
    raise AssertionError(f"no ledger row for {client_request_id}")


# --- fairness at saturation -------------------------------------------------------------------------


def test_ten_times_the_load_gets_no_more_than_its_fair_share(gw: Gateway) -> None:
    (large, large_key), (small, small_key) = Admin(gw).org("fair-large"), Admin(gw).org("fair-small")
    # 10:1 in clients, and the large org's requests are about twice as long in tokens: a queue fair in
    # requests (round robin) would give it 2/3 of the tokens, a FIFO queue ~95 %; fair in tokens, 1/2.
    # The small org then needs 4/3 of the 2 places. Its clients must keep it backlogged even when the
    # machine is loaded: a client that re-sends late leaves the small org idle for a moment, and a
    # work-conserving queue rightly gives that place to the large org. With 4 clients a full-suite
    # run on the shared 2-core box once measured the large org at 57.3 % (it passes alone); 8 keep
    # it backlogged, and FIFO (~91 %) and round robin (~2/3) still fail by a wide margin.
    loads = {large: Load(large_key, 40, padding=100), small: Load(small_key, 8)}

    window = asyncio.run(_saturate(gw, "fair-equal", loads, warm_up=1.0, seconds=4.0))

    assert len(window.answers) >= 50, "the gateway served too little to judge"
    assert window.mean_tokens(large) > 1.5 * window.mean_tokens(small)
    # Equal tiers, so each organisation's weighted share of the tokens is 50 %.
    assert window.share(large) <= 0.50 + 0.05, f"large org took {window.share(large):.1%} of the tokens"
    assert window.share(small) >= 0.50 - 0.05, f"small org got {window.share(small):.1%} of the tokens"

    # The small org's latency. With equal token rates, its share of the requests is
    # f = T_large / (T_large + T_small) (T: tokens per request; ~2/3 here) of the C = 2 places, so it
    # is let through one request every S / (f C) (S: the service time achieved, ~40 ms plus the
    # gateway's own time); VTC keeps two backlogged organisations within about one request's tokens
    # of each other. A new request finds at most N_s - 1 = 7 of its own ahead, so it waits at most
    # N_s S / (f C) and then takes S: (6 + 1) S. Three times that allows for a loaded machine (21 S:
    # a full-suite run on the shared 2-core box measured 18 S, where alone it stays under 14 S; the
    # clients' own event loop, 48 loops in the test process, is part of what is timed).
    # FIFO would make it wait behind all 48 outstanding requests: 48 S / C = 24 S; the relative check
    # below fails it by far more.
    service = window.service_s
    t_large, t_small = window.mean_tokens(large), window.mean_tokens(small)
    f = t_large / (t_large + t_small)
    bound = 3 * (loads[small].loops / (f * CAPACITY) + 1) * service
    small_p99 = _pct(window.latencies(small), 99)
    large_p50 = _pct(window.latencies(large), 50)
    assert small_p99 <= bound, (
        f"small org p99 {small_p99 * 1000:.0f} ms > {bound * 1000:.0f} ms (S={service * 1000:.0f} ms)"
    )
    # Also relative, whatever the machine's speed: the large org waits behind its own 40 (~60 S).
    assert small_p99 < large_p50 / 2, f"small p99 {small_p99:.3f} s, large p50 {large_p50:.3f} s"

    # What operators see: the queue emptied when the clients left; waits and tokens by organisation.
    _wait_for(lambda: _metric(gw, "onshore_queue_depth", model="fair-equal") == 0.0, "the queue to empty")
    for org in (large, small):
        served = _metric(gw, "onshore_fair_share_tokens_total", org=org, tier="standard")
        assert served is not None and served >= window.tokens(org)
    waits = _metric(
        gw, "onshore_queue_wait_seconds_count", model="fair-equal", tier="standard", outcome="admitted"
    )
    assert waits is not None and waits >= len(window.answers)


def test_priority_gets_four_times_what_batch_gets(gw: Gateway) -> None:
    priority, priority_key = Admin(gw).org("fair-priority", "priority")
    batch, batch_key = Admin(gw).org("fair-batch", "batch")
    # Equal loads, so only the tiers (weights 4:1 by default) can tell them apart; 8 loops each keep
    # both backlogged (priority needs 1.6 of the 2 places, batch 0.4).
    loads = {priority: Load(priority_key, 8), batch: Load(batch_key, 8)}

    window = asyncio.run(_saturate(gw, "fair-tiers", loads, warm_up=1.0, seconds=3.0))

    assert len(window.answers) >= 40, "the gateway served too little to judge"
    share = window.share(priority)
    assert 0.80 - 0.06 <= share <= 0.80 + 0.06, f"priority org got {share:.1%} of the tokens"
    # Little's law: 8 requests out at 4/5 of the throughput against 8 at 1/5, so the priority org's
    # latency is about a quarter of the batch org's; asserting half leaves room for noise.
    priority_p50 = _pct(window.latencies(priority), 50)
    batch_p50 = _pct(window.latencies(batch), 50)
    assert priority_p50 < batch_p50 / 2, f"p50 priority {priority_p50:.3f} s, batch {batch_p50:.3f} s"
    assert _metric(gw, "onshore_fair_share_tokens_total", org=priority, tier="priority")
    assert _metric(gw, "onshore_fair_share_tokens_total", org=batch, tier="batch")


# --- leaving the queue ------------------------------------------------------------------------------


def test_a_client_that_leaves_while_queued_leaves_the_queue_at_once(
    gw: Gateway, gated_engine: ScriptedEngine
) -> None:
    org, key = Admin(gw).org("leaver")
    headers = {"Authorization": f"Bearer {key}"}
    body = {"model": "gated", "messages": MESSAGES}

    def depth() -> float | None:
        return _metric(gw, "onshore_queue_depth", model="gated")

    async def scenario() -> tuple[httpx.Response, httpx.Response, float]:
        async with httpx.AsyncClient(base_url=gw.v1, timeout=30.0) as client:
            # A holds the model's only place: the engine keeps it until the gate opens.
            first = asyncio.create_task(client.post("/chat/completions", json=body, headers=headers))
            await asyncio.to_thread(_wait_for, lambda: gated_engine.calls == 1, "A to reach the engine")
            # B queues behind it, on a raw socket we can close.
            payload = json.dumps(body).encode()
            request = (
                f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
                f"x-request-id: {org}-b\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\n\r\n"
            ).encode() + payload
            leaver = socket.create_connection(("127.0.0.1", gw.port))
            leaver.sendall(request)
            await asyncio.to_thread(_wait_for, lambda: depth() == 1.0, "B to queue")
            # C queues behind B: same organisation, so first in, first out would give B the place.
            last = asyncio.create_task(client.post("/chat/completions", json=body, headers=headers))
            await asyncio.to_thread(_wait_for, lambda: depth() == 2.0, "C to queue")
            leaver.close()
            left_in = await asyncio.to_thread(_wait_for, lambda: depth() == 1.0, "B to leave the queue")
            assert gated_engine.calls == 1
            gated_engine.open_gate()
            return await first, await last, left_in

    first, last, left_in = asyncio.run(scenario())
    assert first.status_code == 200 and last.status_code == 200
    assert left_in < 1.0  # at once: noticed on the disconnect, long before the 60 s deadline
    assert gated_engine.calls == 2, "the engine saw the request whose client had left"
    row = _ledger_row(gw, f"{org}-b")
    assert (row["status"], row["error_code"]) == (499, "client_closed")
    assert row["backend"] is None and row["total_tokens"] == 0
    assert _metric(gw, "onshore_queue_requests_total", model="gated", org=org, outcome="left") == 1.0
    assert _metric(gw, "onshore_queue_requests_total", model="gated", org=org, outcome="admitted") == 2.0


# --- the deadline -------------------------------------------------------------------------------------


@pytest.fixture
def slow_engine() -> Iterator[ScriptedEngine]:
    engine = ScriptedEngine().start()
    yield engine
    engine.stop()


def test_requests_past_the_queue_deadline_get_503_and_never_reach_the_engine(
    slow_engine: ScriptedEngine, tmp_path: Path
) -> None:
    gateway = make_gateway(
        tmp_path,
        [{"name": "scripted", "url": slow_engine.url, "models": [{"name": "slow", "max_in_flight": 1}]}],
        extra={"scheduling": {"queue_timeout_s": 0.3}},
    )
    gateway.start()
    try:
        org, key = Admin(gateway).org("deadline")
        body = {"model": "slow", "stream": True, "messages": MESSAGES}  # ~1 s of streamed tokens

        async def three() -> list[tuple[httpx.Response, float]]:
            async with httpx.AsyncClient(base_url=gateway.v1, timeout=30.0) as client:

                async def one() -> tuple[httpx.Response, float]:
                    started = time.monotonic()
                    response = await client.post(
                        "/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
                    )
                    return response, time.monotonic() - started

                return list(await asyncio.gather(one(), one(), one()))

        answers = asyncio.run(three())
        served = [(r, s) for r, s in answers if r.status_code == 200]
        refused = [(r, s) for r, s in answers if r.status_code != 200]
        assert len(served) == 1 and "data: [DONE]" in served[0][0].text
        assert len(refused) == 2
        for response, seconds in refused:
            assert response.status_code == 503
            error = response.json()["error"]
            assert set(error) == {"message", "type", "param", "code"} and error["code"] == "queue_timeout"
            assert response.headers["retry-after"] == "1" and response.headers["retry-after-ms"] == "1000"
            assert 0.3 <= seconds < served[0][1]  # refused at the deadline, not when the place freed
        assert slow_engine.calls == 1, "a request refused in the queue reached the engine"
        timeouts = _metric(gateway, "onshore_queue_requests_total", model="slow", org=org, outcome="timeout")
        assert timeouts == 2.0
    finally:
        gateway.stop()
