"""The official OpenAI **Node** SDK's own retry logic against Onshore's limits, as against OpenAI's:
it waits as long as the 429 says and then gets its answer; it never retries a spent quota; and an
application sees the ``x-ratelimit-*`` headers on its answers.

The SDK runs in ``node tests/node/admission.mjs`` with its default retries (maxRetries 2). What it
reads, in openai 7.60.0's ``client.mjs``: ``shouldRetry`` obeys ``x-should-retry: true|false`` before
anything else, else retries 408, 409, 429 and 5xx; ``retryRequest`` waits ``retry-after-ms`` if the
answer has it, else ``retry-after`` (seconds or an HTTP date), and only when that is 0..60 s; beyond
60 s, or with neither header, it falls back to its own backoff (0.5 s doubling, up to 25 % jitter).
So a concurrency refusal (retry-after-ms 1000) is retried after one second, and a spent monthly
quota (x-should-retry: false) is not retried at all, although its retry-after is weeks away.

openai 7.60.0 (pinned in tests/node/package-lock.json) declares Node >= 22; it runs on the Node 20 we
test with (npm ci only warns), and every 7.x release declares the same.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.support.scripted_engine import ScriptedEngine
from tests.support.services import IN_CI, ROOT, Gateway, make_gateway, remote_backend

NODE_DIR = ROOT / "tests" / "node"
SCRIPT = NODE_DIR / "admission.mjs"
INSTALL = "npm ci --prefix tests/node --no-audit --no-fund  (or scripts/install.sh)"


def _node() -> str:
    """The node binary, once the pinned SDK is installed; fails under CI=true, else skips."""
    node = shutil.which("node")
    missing = (
        "node is not on PATH"
        if node is None
        else "tests/node/node_modules/openai is not installed"
        if not (NODE_DIR / "node_modules" / "openai" / "package.json").is_file()
        else None
    )
    if missing is not None:
        if IN_CI:
            pytest.fail(f"{missing}; it is required when CI=true (install it with: {INSTALL})")
        pytest.skip(f"{missing}; install it with: {INSTALL}")
    assert node is not None
    return node


@pytest.fixture(scope="module")
def node() -> str:
    return _node()


@pytest.fixture(scope="module")
def engine() -> Iterator[ScriptedEngine]:
    started = ScriptedEngine().start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def gw(node: str, engine: ScriptedEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp: Path = tmp_path_factory.mktemp("node-sdk-limits")
    gateway = make_gateway(tmp, [remote_backend("engine", engine.url, "gated", "normal")])
    gateway.start()
    yield gateway
    gateway.stop()


def _set_limits(gw: Gateway, key_id: str, **values: object) -> None:
    response = httpx.put(
        f"{gw.base_url}/admin/v1/keys/{key_id}/limits",
        json=values,
        headers={"Authorization": f"Bearer {gw.admin_token}"},
    )
    assert response.status_code == 200, response.text


class NodeCall:
    """``node admission.mjs`` for one scenario; ``on_attempt`` runs for each attempt it reports while
    it runs (so a test can act between the SDK's first attempt and its retry)."""

    def __init__(self, node: str, gw: Gateway, key: str, scenario: str, model: str = "normal") -> None:
        env = {
            "PATH": str(Path(node).parent),
            "ONSHORE_BASE_URL": gw.v1,
            "ONSHORE_API_KEY": key,
            "ONSHORE_SCENARIO": scenario,
            "ONSHORE_MODEL": model,
        }
        self.proc = subprocess.Popen(
            [node, str(SCRIPT)],
            cwd=NODE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def result(
        self, on_attempt: Callable[[str], object] | None = None, timeout: float = 30.0
    ) -> dict[str, Any]:
        # A watchdog: readline below would otherwise wait forever on a hung SDK.
        watchdog = threading.Timer(timeout, self.proc.kill)
        watchdog.start()
        try:
            assert self.proc.stderr is not None and self.proc.stdout is not None
            log: list[str] = []
            for line in self.proc.stderr:
                log.append(line)
                if on_attempt is not None and line.startswith("attempt "):
                    on_attempt(line.split()[1])
            out = self.proc.stdout.read()
            code = self.proc.wait()
        finally:
            watchdog.cancel()
        assert code == 0 and out.strip(), f"node exited {code}; stdout {out!r}; stderr {''.join(log)}"
        outcome: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        return outcome


def test_the_node_sdk_waits_as_told_then_gets_its_answer(
    node: str, gw: Gateway, engine: ScriptedEngine
) -> None:
    key_id, key = gw.create_key("node-sdk-waits")
    _set_limits(gw, key_id, max_concurrent=1)
    calls_before = engine.calls
    holder = threading.Thread(
        target=lambda: openai.OpenAI(base_url=gw.v1, api_key=key, max_retries=0).chat.completions.create(
            model="gated", messages=[{"role": "user", "content": "hold the only place"}]
        )
    )
    holder.start()
    deadline = time.monotonic() + 10
    while engine.calls == calls_before and time.monotonic() < deadline:
        time.sleep(0.01)  # the holder's request reached the engine: it has the key's only place
    assert engine.calls > calls_before, "the holding request never reached the engine"

    # Free the place as soon as the SDK has been refused, long before the second it was told to wait.
    outcome = NodeCall(node, gw, key, "chat").result(on_attempt=lambda _status: engine.open_gate())
    holder.join(10)

    assert outcome["ok"], outcome
    assert outcome["answer"] == "abc"
    attempts = outcome["attempts"]
    statuses = [attempt["status"] for attempt in attempts]
    assert statuses[0] == 429 and statuses[-1] == 200 and len(statuses) <= 3, statuses
    refused = attempts[0]
    assert json.loads(refused["body"])["error"]["code"] == "rate_limit_exceeded"
    assert "x-should-retry" not in refused["headers"]
    assert refused["headers"]["retry-after"] == "1"
    wait_ms = int(refused["headers"]["retry-after-ms"])
    # It waited what the answer said (retry-after-ms, read first), not its own 0.5 s backoff: the gap
    # from the refusal's arrival to the next send is the SDK's sleep alone, not the first round trip.
    gap_s = (attempts[1]["sent_ms"] - attempts[0]["answered_ms"]) / 1000
    assert wait_ms / 1000 - 0.05 <= gap_s <= wait_ms / 1000 + 0.5, (gap_s, wait_ms)


def test_a_spent_quota_is_one_call_and_a_rate_limit_error_with_insufficient_quota(
    node: str, gw: Gateway
) -> None:
    key_id, key = gw.create_key("node-sdk-spent")
    _set_limits(gw, key_id, monthly_tokens=0)
    outcome = NodeCall(node, gw, key, "chat").result()
    assert not outcome["ok"], outcome
    error = outcome["error"]
    assert error["class"] == "RateLimitError" and error["is_rate_limit_error"]
    assert error["status"] == 429
    assert error["code"] == "insufficient_quota"
    # One attempt although the SDK had two retries left: x-should-retry: false was obeyed.
    assert len(outcome["attempts"]) == 1, outcome["attempts"]
    assert outcome["attempts"][0]["headers"]["x-should-retry"] == "false"


def test_rate_limit_headers_reach_the_node_sdk(node: str, gw: Gateway) -> None:
    key_id, key = gw.create_key("node-sdk-headers")
    _set_limits(gw, key_id, rpm=5, tpm=100_000)
    outcome = NodeCall(node, gw, key, "headers").result()
    assert outcome["ok"], outcome
    assert outcome["answer"] == "abc"
    headers = outcome["headers"]  # from the SDK's own Response object (.withResponse())
    assert headers["x-ratelimit-limit-requests"] == "5"
    assert headers["x-ratelimit-remaining-requests"] == "4"
    assert headers["x-ratelimit-limit-tokens"] == "100000"
    assert 0 < int(headers["x-ratelimit-remaining-tokens"]) < 100_000
    for name in ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"):
        assert headers[name].endswith("s"), headers[name]
    assert len(outcome["attempts"]) == 1

    # A stream carries them too: they are sent before the first event.
    streamed = NodeCall(node, gw, key, "stream").result()
    assert streamed["ok"], streamed
    assert streamed["answer"] == "t0 t1 t2 "
    assert streamed["headers"]["x-ratelimit-remaining-requests"] == "3"
