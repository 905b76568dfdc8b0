"""The official ``openai`` SDK's own retry logic against Onshore's limits, as against OpenAI's: it waits
as long as the 429 says and then gets its answer; it never retries a spent quota."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import httpx2
import openai
import pytest

from tests.support.scripted_engine import ScriptedEngine
from tests.support.services import Gateway, make_gateway, remote_backend


@pytest.fixture(scope="module")
def engine() -> Iterator[ScriptedEngine]:
    started = ScriptedEngine().start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def gw(engine: ScriptedEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp: Path = tmp_path_factory.mktemp("sdk-limits")
    gateway = make_gateway(tmp, [remote_backend("engine", engine.url, "gated", "normal", "bench-model")])
    gateway.start()
    yield gateway
    gateway.stop()


class Attempts:
    """Every HTTP attempt the SDK makes, with the time it was sent and the answer's headers."""

    def __init__(self) -> None:
        self.sent: list[float] = []
        self.answers: list[httpx2.Response] = []

    def client(self) -> httpx2.Client:
        # The SDK's own HTTP client (openai 3.x is built on httpx2), with hooks that see every try.
        return httpx2.Client(
            event_hooks={
                "request": [lambda _request: self.sent.append(time.monotonic())],
                "response": [self.answers.append],
            }
        )


def _set_limits(gw: Gateway, key_id: str, **values: object) -> None:
    response = httpx.put(
        f"{gw.base_url}/admin/v1/keys/{key_id}/limits",
        json=values,
        headers={"Authorization": f"Bearer {gw.admin_token}"},
    )
    assert response.status_code == 200, response.text


def test_the_sdk_waits_as_told_then_gets_its_answer(gw: Gateway, engine: ScriptedEngine) -> None:
    key_id, key = gw.create_key("sdk-waits")
    _set_limits(gw, key_id, max_concurrent=1)
    holder = threading.Thread(
        target=lambda: openai.OpenAI(base_url=gw.v1, api_key=key, max_retries=0).chat.completions.create(
            model="gated", messages=[{"role": "user", "content": "hold the only place"}]
        )
    )
    holder.start()
    time.sleep(0.3)  # the holder has the key's only place
    threading.Timer(0.5, engine.open_gate).start()

    attempts = Attempts()
    sdk = openai.OpenAI(base_url=gw.v1, api_key=key, http_client=attempts.client())  # default retries
    answer = sdk.chat.completions.create(model="normal", messages=[{"role": "user", "content": "hi"}])
    holder.join(10)
    assert answer.choices[0].message.content == "abc"
    statuses = [r.status_code for r in attempts.answers]
    assert statuses[0] == 429 and statuses[-1] == 200 and len(statuses) <= 3
    refused = attempts.answers[0]
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    wait_ms = int(refused.headers["retry-after-ms"])
    # The SDK waited what the answer said (it reads retry-after-ms first), not its own backoff.
    gap = attempts.sent[1] - attempts.sent[0]
    assert wait_ms / 1000 - 0.05 <= gap <= wait_ms / 1000 + 0.5


def test_a_spent_quota_is_one_call_and_a_rate_limit_error_with_insufficient_quota(gw: Gateway) -> None:
    key_id, key = gw.create_key("sdk-spent")
    _set_limits(gw, key_id, monthly_tokens=0)
    attempts = Attempts()
    sdk = openai.OpenAI(base_url=gw.v1, api_key=key, http_client=attempts.client())  # default retries
    with pytest.raises(openai.RateLimitError) as refused:
        sdk.chat.completions.create(model="normal", messages=[{"role": "user", "content": "hi"}])
    assert refused.value.code == "insufficient_quota"
    assert refused.value.status_code == 429
    assert len(attempts.sent) == 1  # x-should-retry: false: the SDK did not retry


def test_rate_limit_headers_in_openai_formats_on_every_answer(gw: Gateway) -> None:
    key_id, key = gw.create_key("sdk-headers")
    _set_limits(gw, key_id, rpm=5, tpm=100_000)
    raw = openai.OpenAI(base_url=gw.v1, api_key=key).chat.completions.with_raw_response.create(
        model="normal", messages=[{"role": "user", "content": "hi"}], max_tokens=10
    )
    headers = raw.headers
    assert headers["x-ratelimit-limit-requests"] == "5"
    assert headers["x-ratelimit-remaining-requests"] == "4"
    assert headers["x-ratelimit-limit-tokens"] == "100000"
    assert 0 < int(headers["x-ratelimit-remaining-tokens"]) < 100_000
    for name in ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"):
        assert headers[name] in {"1m0s", "59.999s", "59.998s"} or headers[name].endswith("s")
    # The stream carries them too (they are sent before the first event).
    with openai.OpenAI(base_url=gw.v1, api_key=key).chat.completions.with_streaming_response.create(
        model="normal", messages=[{"role": "user", "content": "hi"}], stream=True
    ) as stream:
        assert stream.headers["x-ratelimit-remaining-requests"] == "3"
