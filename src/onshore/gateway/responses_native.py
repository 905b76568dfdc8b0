"""The Responses API passed through to an engine that serves ``/v1/responses`` itself.

The engine's answer goes back as its own bytes (complete or streamed); this transformer only reads:
the usage (``input_tokens``/``output_tokens``, in the body or in the stream's terminal event) for
metering, admission's settlement and the ledger row, and the final ``response`` object, which is
stored (per organisation, like a translated one) so that ``previous_response_id`` can be checked
to belong to the caller before it reaches the engine. A Responses stream ends with its terminal
event, not ``[DONE]``: seeing one tells the response step the stream is complete.
"""

from __future__ import annotations

import re
from typing import Any

from onshore.gateway.context import RequestContext
from onshore.gateway.responses_reply import ResponsesExchange
from onshore.gateway.sse import EVENT_END, event_json

# The events after which an engine sends nothing more (OpenAI's and vLLM's streams).
_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed", "error"})
_TERMINAL_BYTES = re.compile(rb'"type"\s*:\s*"(?:response\.(?:completed|incomplete|failed)|error)"')


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def responses_usage(usage: object) -> tuple[int, int, int, int] | None:
    """(input, output, total, cached input) tokens of a Responses usage object; None: no usage."""
    if not isinstance(usage, dict) or not usage:
        return None
    prompt, completion = _int(usage.get("input_tokens")), _int(usage.get("output_tokens"))
    total = _int(usage.get("total_tokens")) or prompt + completion
    details = usage.get("input_tokens_details")
    cached = min(_int(details.get("cached_tokens")), prompt) if isinstance(details, dict) else 0
    return prompt, completion, total, cached


class NativeResponses:
    """Reads usage and the final response of an engine's own Responses answer; changes nothing."""

    __slots__ = ("_ctx", "_state")

    def __init__(self, ctx: RequestContext, state: ResponsesExchange) -> None:
        self._ctx = ctx
        self._state = state

    def on_body(self, payload: dict[str, Any]) -> bool:
        self._final(payload)
        self._state.ended = True
        return False

    def on_events(self, block: bytes) -> bytes:
        # Only a block holding a terminal event is parsed: every other event is forwarded unread.
        if _TERMINAL_BYTES.search(block) is None:
            return block
        for event in block.split(EVENT_END):
            payload = event_json(event) if event else None
            if payload is None or payload.get("type") not in _TERMINAL:
                continue
            self._state.ended = True
            response = payload.get("response")
            if isinstance(response, dict):
                self._final(response)
        return block

    def _final(self, response: dict[str, Any]) -> None:
        counts = responses_usage(response.get("usage"))
        if counts is not None:
            self._ctx.set_usage(*counts)
        if response.get("status") in ("completed", "incomplete") and isinstance(response.get("id"), str):
            self._state.final = response  # stored (when asked) as the partner receives it
