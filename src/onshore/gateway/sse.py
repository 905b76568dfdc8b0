"""Relay an upstream SSE body as bytes: learn the usage, drop what the client did not ask for.

Events are forwarded as the upstream framed them. Only an event that mentions a usage object is
parsed; everything else passes through as bytes, never decoded or re-encoded.
"""

from __future__ import annotations

from typing import Any

import orjson

_EVENT_END = b"\n\n"
_DONE = b"data: [DONE]"
_USAGE_MARKERS = (b'"usage":{', b'"usage": {')


class SseRelay:
    """Feed upstream bytes in any pieces; get back the complete events to forward."""

    __slots__ = ("_buffer", "_model_from", "_model_to", "_strip_usage", "events", "saw_done", "usage")

    def __init__(self, *, strip_usage: bool, upstream_model: str | None = None, public_model: str = ""):
        self._buffer = b""
        self._strip_usage = strip_usage
        self._model_from: tuple[bytes, ...] = ()
        self._model_to: tuple[bytes, ...] = ()
        if upstream_model is not None and upstream_model != public_model:
            old, new = orjson.dumps(upstream_model), orjson.dumps(public_model)
            self._model_from = (b'"model":' + old, b'"model": ' + old)
            self._model_to = (b'"model":' + new, b'"model": ' + new)
        self.usage: dict[str, Any] | None = None
        self.saw_done = False
        self.events = 0

    def feed(self, chunk: bytes) -> bytes:
        if b"\r" in chunk:
            chunk = chunk.replace(b"\r\n", b"\n")
        data = self._buffer + chunk if self._buffer else chunk
        end = data.rfind(_EVENT_END)
        if end < 0:
            self._buffer = data
            return b""
        complete = data[: end + 2]
        self._buffer = data[end + 2 :]
        return self._process(complete)

    def flush(self) -> bytes:
        """Whatever is left when the upstream closed (an unterminated last event)."""
        rest, self._buffer = self._buffer, b""
        return self._process(rest + _EVENT_END) if rest.strip() else b""

    def _process(self, complete: bytes) -> bytes:
        self.events += complete.count(_EVENT_END)
        if not self.saw_done and _DONE in complete:
            self.saw_done = True
        for marker in _USAGE_MARKERS:
            if marker in complete:
                complete = self._take_usage(complete)
                break
        for old, new in zip(self._model_from, self._model_to, strict=True):
            complete = complete.replace(old, new)
        return complete

    def _take_usage(self, complete: bytes) -> bytes:
        kept: list[bytes] = []
        for event in complete.split(_EVENT_END):
            if not event:
                continue
            if any(marker in event for marker in _USAGE_MARKERS):
                payload = _event_json(event)
                usage = payload.get("usage") if payload is not None else None
                if isinstance(usage, dict):
                    self.usage = usage
                    if self._strip_usage and payload is not None and not payload.get("choices"):
                        continue
            kept.append(event)
        return b"".join(event + _EVENT_END for event in kept)


def _event_json(event: bytes) -> dict[str, Any] | None:
    lines = [line[5:].lstrip() for line in event.split(b"\n") if line.startswith(b"data:")]
    if not lines:
        return None
    try:
        value = orjson.loads(b"\n".join(lines))
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def error_event(message: str, error_type: str, code: str | None) -> bytes:
    """An OpenAI-shaped error as an SSE event, for failures after the stream has started."""
    body = {"error": {"message": message, "type": error_type, "param": None, "code": code}}
    return b"data: " + orjson.dumps(body) + _EVENT_END


def usage_counts(usage: dict[str, Any] | None) -> tuple[int, int, int]:
    if not usage:
        return 0, 0, 0
    prompt = _as_int(usage.get("prompt_tokens"))
    completion = _as_int(usage.get("completion_tokens"))
    total = _as_int(usage.get("total_tokens")) or prompt + completion
    return prompt, completion, total


def _as_int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
