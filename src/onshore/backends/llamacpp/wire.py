"""OpenAI's wire format for chat and legacy completions: whole JSON bodies and SSE chunks.

Streaming follows OpenAI's framing exactly: chat opens with a chunk carrying the assistant role, then
one chunk per sampled token that produced text (a token ending inside a UTF-8 character, or text held
back as a possible stop string, joins the next chunk), then a chunk with an empty delta and
``finish_reason``; with ``stream_options.include_usage`` every chunk carries ``"usage": null`` and a
last chunk with ``"choices": []`` carries the usage. ``data: [DONE]`` ends the stream.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from onshore.domain.catalog import Endpoint

DONE = b"data: [DONE]\n\n"


class Renderer:
    """Renders one response; chat and legacy completions differ only in object names and fields."""

    def __init__(self, endpoint: Endpoint, request_id: str, model: str, *, include_usage: bool) -> None:
        self._chat = endpoint is Endpoint.CHAT
        prefix = "chatcmpl-" if self._chat else "cmpl-"
        self._head: dict[str, Any] = {
            "id": prefix + request_id,
            "object": "chat.completion.chunk" if self._chat else "text_completion",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": None,
        }
        self._include_usage = include_usage

    def full(self, text: str, finish_reason: str, prompt_tokens: int, completion_tokens: int) -> bytes:
        """The non-streaming body."""
        choice: dict[str, Any] = {"index": 0, "logprobs": None, "finish_reason": finish_reason}
        if self._chat:
            choice["message"] = {"role": "assistant", "content": text, "refusal": None}
        else:
            choice["text"] = text
        body = {
            **self._head,
            "object": "chat.completion" if self._chat else "text_completion",
            "choices": [choice],
            "usage": _usage(prompt_tokens, completion_tokens),
        }
        return orjson.dumps(body)

    def opening(self) -> bytes | None:
        """The role chunk that opens a chat stream (legacy completions have none)."""
        if not self._chat:
            return None
        return self._chunk({"role": "assistant", "content": ""}, None)

    def delta(self, text: str) -> bytes:
        return self._chunk({"content": text} if self._chat else text, None)

    def finish(self, finish_reason: str) -> bytes:
        return self._chunk({} if self._chat else "", finish_reason)

    def usage(self, prompt_tokens: int, completion_tokens: int) -> bytes | None:
        if not self._include_usage:
            return None
        return _event({**self._head, "choices": [], "usage": _usage(prompt_tokens, completion_tokens)})

    def _chunk(self, delta: dict[str, str] | str, finish_reason: str | None) -> bytes:
        choice: dict[str, Any] = {"index": 0}
        if self._chat:
            choice["delta"] = delta
        else:
            choice["text"] = delta
        choice["logprobs"] = None
        choice["finish_reason"] = finish_reason
        body: dict[str, Any] = {**self._head, "choices": [choice]}
        if self._include_usage:
            body["usage"] = None
        return _event(body)


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _event(body: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(body) + b"\n\n"
