"""Zero-downtime stop: the real `onshore serve`, SIGTERM in the middle of a long stream (docs/upgrades.md).

/readyz goes 503 at once while requests are still served for `server.drain_delay_s`, the stream
under way completes, the process exits 0 within the grace, and the stream's ledger row is stored.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import sqlalchemy as sa

from tests.support.services import Gateway, Upstream, make_gateway, remote_backend, start_upstream, stop

pytestmark = pytest.mark.slow

TOKENS = 30
TOKEN_DELAY_MS = 100  # a 3 s stream
DELAY_S = 2.0  # the stream outlasts it: it is under way when connections stop being accepted
GRACE_S = 10.0
# /readyz fails within this long of the signal: a worker looks at it every 0.1 s, and uvicorn's
# supervisor (server.workers > 1) at its signals every 0.5 s before it passes them on.
TURN_S = 0.8


@pytest.fixture(scope="module")
def slow_upstream() -> Iterator[Upstream]:
    up = start_upstream(tokens=TOKENS, extra=["--token-delay-ms", str(TOKEN_DELAY_MS)])
    yield up
    stop(up.proc)


def _gateway(
    tmp: Path, upstream: Upstream, workers: int = 1, delay_s: float = DELAY_S
) -> tuple[Gateway, str]:
    url = f"sqlite:///{tmp / 'ledger.db'}"
    gw = make_gateway(
        tmp,
        [remote_backend("pool", upstream.url, "bench-model")],
        database_url=url,
        extra={
            "server": {"drain_delay_s": delay_s, "drain_s": GRACE_S, "workers": workers},
            # Rows wait in memory for far longer than a test: only the flush at exit writes them.
            "ledger": {"flush_interval_s": 60.0},
        },
    )
    return gw, url


class _Stream(threading.Thread):
    """One streamed chat completion through the official SDK, in the background."""

    def __init__(self, gw: Gateway, key: str) -> None:
        super().__init__(daemon=True)
        self.client = openai.OpenAI(base_url=gw.v1, api_key=key, max_retries=0)
        self.first = threading.Event()
        self.pieces: list[str] = []
        self.finish: str | None = None
        self.request_id = ""
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            raw = self.client.chat.completions.with_raw_response.create(
                model="bench-model", messages=[{"role": "user", "content": "hi"}], stream=True
            )
            self.request_id = raw.headers["x-request-id"]
            for chunk in raw.parse():
                if chunk.choices:
                    if chunk.choices[0].delta.content:
                        self.pieces.append(chunk.choices[0].delta.content)
                    self.finish = chunk.choices[0].finish_reason or self.finish
                    self.first.set()
        except BaseException as exc:
            self.error = exc
            self.first.set()


def _ledger_row(url: str, request_id: str) -> dict[str, Any] | None:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT status, streamed, completion_tokens, error_code FROM usage_records WHERE request_id = :r"
                ),
                {"r": request_id},
            ).first()
    finally:
        engine.dispose()
    return dict(row._mapping) if row is not None else None


Probes = list[tuple[float, httpx.Response]]


def _drain_during_a_stream(gw: Gateway, key: str) -> tuple[_Stream, float, Probes]:
    """SIGTERM once the stream has begun; what /readyz and a new request got during the delay."""
    assert gw.proc is not None
    stream = _Stream(gw, key)
    stream.start()
    assert stream.first.wait(10) and stream.error is None
    signalled = time.monotonic()
    gw.proc.send_signal(signal.SIGTERM)
    during: Probes = []
    with httpx.Client(timeout=5) as http:
        while time.monotonic() - signalled < DELAY_S - 0.5:
            during.append((time.monotonic() - signalled, http.get(gw.base_url + "/readyz")))
            time.sleep(0.1)
        served = http.get(gw.v1 + "/models", headers={"Authorization": f"Bearer {key}"})
        during.append((time.monotonic() - signalled, served))
    stream.join(15)
    return stream, signalled, during


def _check_drained(gw: Gateway, url: str, stream: _Stream, signalled: float, during: Probes) -> None:
    assert gw.proc is not None
    assert gw.proc.wait(DELAY_S + GRACE_S + 5) == 0, gw.log_text()[-3000:]
    took = time.monotonic() - signalled
    assert took < DELAY_S + GRACE_S
    readiness, (served_at, served) = during[:-1], during[-1]
    statuses = [r.status_code for _, r in readiness]
    assert statuses == sorted(statuses) and set(statuses) <= {200, 503}  # 503 from some point on
    assert all(r.status_code == 503 for at, r in readiness if at > TURN_S), statuses
    assert all(r.json()["checks"]["draining"] == "draining" for _, r in readiness if r.status_code == 503)
    # Still served during the delay, on a connection that is not kept.
    assert served_at < DELAY_S and served.status_code == 200 and served.headers["connection"] == "close"
    assert stream.error is None and stream.finish == "stop"
    assert len(stream.pieces) == TOKENS  # the stream under way was not cut
    row = _ledger_row(url, stream.request_id)  # written by the flush at the end of the drain, no sooner
    assert row == {"status": 200, "streamed": True, "completion_tokens": TOKENS, "error_code": None}, (
        gw.log_text()[-3000:]
    )
    log = gw.log_text()
    assert '"draining"' in log and "drained in" in log


def test_sigterm_drains_a_stream_and_exits_zero(slow_upstream: Upstream, tmp_path: Path) -> None:
    gw, url = _gateway(tmp_path, slow_upstream)
    _, key = gw.create_key("drain-org")
    gw.start()
    assert httpx.get(gw.base_url + "/readyz").json()["checks"]["draining"] == "no"
    stream, signalled, during = _drain_during_a_stream(gw, key)
    _check_drained(gw, url, stream, signalled, during)


def test_sigterm_drains_every_worker(slow_upstream: Upstream, tmp_path: Path) -> None:
    """With server.workers = 2 the supervisor passes the signal on; each worker drains alike."""
    gw, url = _gateway(tmp_path, slow_upstream, workers=2)
    _, key = gw.create_key("drain-workers-org")
    gw.start()
    stream, signalled, during = _drain_during_a_stream(gw, key)
    _check_drained(gw, url, stream, signalled, during)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_second_sigterm_ends_the_drain_at_once(
    slow_upstream: Upstream, tmp_path: Path, workers: int
) -> None:
    gw, url = _gateway(tmp_path, slow_upstream, workers, delay_s=30.0)  # a drain far longer than the test
    _, key = gw.create_key("drain-twice-org")
    gw.start()
    assert gw.proc is not None
    stream = _Stream(gw, key)
    stream.start()
    assert stream.first.wait(10)
    gw.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    signalled = time.monotonic()
    gw.proc.send_signal(signal.SIGTERM)
    assert gw.proc.wait(10) == 0  # neither the delay (30 s) nor the stream (3 s) was waited for
    assert time.monotonic() - signalled < 10
    stream.join(5)
    assert len(stream.pieces) < TOKENS  # the stream was cut
    assert _ledger_row(url, stream.request_id) is not None  # and still metered, then flushed
