"""An engine's error answer, turned into ours: its message kept for the partner, its secrets not.

Engines answer a bad request in several shapes: OpenAI's ``{"error": {...}}``, the flat
``{"object": "error", "message": ..., "code": 400}`` of older vLLM, SGLang and TensorRT-LLM,
FastAPI's ``{"detail": [...]}`` or ``{"detail": "..."}``, or plain text. The partner gets the
engine's own message (it says what to fix: "maximum context length is 4096 tokens"), bounded in
length and with internal addresses, host names and file paths removed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from onshore.errors import OnshoreError, RateLimited, UpstreamError, UpstreamRejected

MAX_MESSAGE = 1000
_REDACTIONS = (
    (re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+"), "<url>"),
    (re.compile(r"(?<![\w/])(?:[A-Za-z]:\\|\\\\)[^\s'\"<>]+"), "<path>"),
    (re.compile(r"(?<![\w.:/-])(?:~|\.{1,2})?(?:/[\w.@+-]+){2,}/?"), "<path>"),
    (re.compile(r"\[[0-9a-fA-F:]{2,39}\](?::\d{1,5})?"), "<address>"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b"), "<address>"),
    (re.compile(r"\b[\w-]+(?:\.[\w-]+)*:\d{2,5}\b"), "<address>"),
    (
        re.compile(r"\b[\w-]+(?:\.[\w-]+)*\.(?:internal|local|localdomain|lan|corp|intra|svc|cluster)\b"),
        "<address>",
    ),
)
_GENERIC = "The model backend rejected the request."


def sanitize(message: str) -> str:
    """The engine's message with addresses, host names and file paths replaced, then bounded."""
    text = message[: MAX_MESSAGE * 4]
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def engine_fields(body: bytes) -> tuple[str | None, str | None, str | None]:
    """(message, param, code) from any of the shapes engines use; None where absent."""
    try:
        payload: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        text = body[: MAX_MESSAGE * 4].decode("utf-8", "replace").strip()
        return (text or None) if text[:1] not in ("<", "{", "[") else None, None, None
    if not isinstance(payload, dict):
        return None, None, None
    error = payload.get("error")
    source: dict[str, Any] = error if isinstance(error, dict) else payload
    message = source.get("message")
    if isinstance(error, str):
        message = error
    if not isinstance(message, str) and "detail" in payload:
        message = _detail_message(payload["detail"])
    param, code = source.get("param"), source.get("code")
    return (
        message if isinstance(message, str) and message.strip() else None,
        param if isinstance(param, str) else None,
        code if isinstance(code, str) else None,  # a numeric code (400) only repeats the status
    )


def _detail_message(detail: Any) -> str | None:
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts = []
        for item in detail[:5]:
            if isinstance(item, dict) and isinstance(item.get("msg"), str):
                where = item.get("loc")
                at = ".".join(str(p) for p in where if p != "body") if isinstance(where, list) else ""
                parts.append(f"{at}: {item['msg']}" if at else item["msg"])
        return "; ".join(parts) or None
    return None


def refusal(status: int, body: bytes, headers: Mapping[str, str]) -> OnshoreError:
    """What the partner is told when the engine answered ``status`` >= 400."""
    if status >= 500 or status in (401, 403, 407):
        # 401/403 from an engine means *our* credentials for it are wrong: not the partner's fault.
        return UpstreamError()
    message, param, code = engine_fields(body)
    text = sanitize(message) if message else None
    if status == 429:
        return RateLimited(
            text or "The model backend is overloaded; retry later.",
            retry_after_s=_retry_after(headers.get("Retry-After") or headers.get("retry-after")),
        )
    return UpstreamRejected(status, text or _GENERIC, param=param, code=code)


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date: rare from engines; the partner still gets the 429
    return seconds if 0 <= seconds <= 86_400 else None
