"""Partner load through the official `openai` SDK: threads alternating plain and streamed chat
completions, each outcome recorded (its request id, when it ended, or what went wrong)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import openai

MESSAGES = [{"role": "user", "content": "hello"}]


@dataclass(frozen=True, slots=True)
class Outcome:
    ended: float  # time.monotonic() when the answer (or the error) was complete
    stream: bool
    request_id: str | None
    error: str | None  # None: a 200 whose answer was whole (a stream: every token, then "stop")


class PartnerLoad:
    """``threads`` partners, each sending its next request as soon as the last one ended.

    No retries in the SDK (``max_retries=0``): what a partner sees is what the gateway and the
    load balancer did, not what a client library papered over.
    """

    def __init__(
        self, base_url: str, key: str, *, threads: int = 8, tokens: int = 12, model: str = "bench-model"
    ):
        self._base_url = base_url
        self._key = key
        self._tokens = tokens
        self._model = model
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.outcomes: list[Outcome] = []
        self._threads = [
            threading.Thread(target=self._partner, args=(i,), daemon=True) for i in range(threads)
        ]

    def start(self) -> PartnerLoad:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> list[Outcome]:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)
        with self._lock:
            return list(self.outcomes)

    def _partner(self, index: int) -> None:
        client = openai.OpenAI(base_url=self._base_url, api_key=self._key, max_retries=0, timeout=15)
        sent = index  # half the partners begin with a stream
        while not self._stop.is_set():
            stream = sent % 2 == 1
            sent += 1
            outcome = self._streamed(client) if stream else self._plain(client)
            with self._lock:
                self.outcomes.append(outcome)
        client.close()

    def _plain(self, client: openai.OpenAI) -> Outcome:
        try:
            raw = client.chat.completions.with_raw_response.create(model=self._model, messages=MESSAGES)  # type: ignore[arg-type]
            completion = raw.parse()
        except openai.OpenAIError as exc:
            return Outcome(time.monotonic(), False, None, f"{type(exc).__name__}: {exc}"[:300])
        usage = completion.usage
        whole = usage is not None and usage.completion_tokens == self._tokens
        return Outcome(
            time.monotonic(), False, raw.headers["x-request-id"], None if whole else "short answer"
        )

    def _streamed(self, client: openai.OpenAI) -> Outcome:
        request_id = None
        pieces = 0
        finish = None
        try:
            raw = client.chat.completions.with_raw_response.create(
                model=self._model,
                messages=MESSAGES,  # type: ignore[arg-type]
                stream=True,
            )
            request_id = raw.headers["x-request-id"]
            for chunk in raw.parse():
                if chunk.choices:
                    pieces += 1 if chunk.choices[0].delta.content else 0
                    finish = chunk.choices[0].finish_reason or finish
        except openai.OpenAIError as exc:
            return Outcome(time.monotonic(), True, request_id, f"{type(exc).__name__}: {exc}"[:300])
        except Exception as exc:  # the connection dropped mid-stream (httpx raises its own errors)
            return Outcome(time.monotonic(), True, request_id, f"stream cut: {type(exc).__name__}")
        whole = pieces == self._tokens and finish == "stop"
        return Outcome(time.monotonic(), True, request_id, None if whole else f"stream cut after {pieces}")
