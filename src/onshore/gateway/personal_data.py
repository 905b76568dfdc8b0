"""The personal-data policy on a request: find the identifiers in what a partner sends, then count,
refuse or replace them before anything reaches a model.

What is scanned: chat messages (string content, the text of content parts, tool-call arguments),
Responses API bodies passed through natively (instructions, input strings and items' texts),
legacy completion prompts (a string or a list of strings) and embedding inputs (likewise). Token-id
arrays carry no text and are left alone.

Redaction replaces each identifier by a numbered, typed placeholder (``[KR_RRN_1]``); the same value
gets the same placeholder throughout the request, so a model can still tell two people apart. The
map from placeholder to value lives only in the request's context: it is never logged, stored or
sent anywhere, and it is gone when the request ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson

from onshore.domain.catalog import Endpoint
from onshore.domain.policy import PiiMode, PiiPolicy
from onshore.pii import Detector, EntityType, Finding, redact

# Above this many characters a scan leaves the event loop for a thread: at ~20 MB/s, 64 KiB costs
# about 3 ms, which other requests on this replica should not wait for.
_INLINE_CHARS = 64 * 1024


@lru_cache(maxsize=64)
def detector_for(types: frozenset[EntityType]) -> Detector:
    """One compiled detector per set of types (immutable and thread-safe, so shared)."""
    return Detector(types)


def text_slots(payload: dict[str, Any], endpoint: Endpoint) -> list[tuple[Any, Any]]:
    """Every (container, key) where ``container[key]`` is partner text the policy applies to."""
    slots: list[tuple[Any, Any]] = []
    if endpoint is Endpoint.CHAT:
        messages = payload.get("messages")
        if isinstance(messages, list):
            for message in messages:
                if isinstance(message, dict):
                    slots.extend(_message_slots(message))
    elif endpoint is Endpoint.RESPONSES:  # passed through to an engine that serves it natively
        slots.extend(_responses_slots(payload))
    else:
        for name in _TEXT_FIELDS.get(endpoint, ("prompt",)):
            value = payload.get(name)
            if isinstance(value, str):
                slots.append((payload, name))
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, str):
                        slots.append((value, i))
                    elif isinstance(item, dict) and isinstance(item.get("text"), str):
                        slots.append((item, "text"))  # rerank documents as {"text": ...}
    return slots


# Where partner text sits in the bodies other than chat (rerank and score: vLLM's and Cohere's shapes).
_TEXT_FIELDS = {
    Endpoint.EMBEDDINGS: ("input",),
    Endpoint.RERANK: ("query", "documents"),
    Endpoint.SCORE: ("text_1", "text_2", "queries", "documents"),
}


def _responses_slots(payload: dict[str, Any]) -> Iterator[tuple[Any, Any]]:
    """A Responses body's texts: ``instructions``, a string ``input``, and in input items a
    message's string content or text parts (``input_text``, ...), a function call's arguments and
    a function call output's string output."""
    if isinstance(payload.get("instructions"), str):
        yield payload, "instructions"
    value = payload.get("input")
    if isinstance(value, str):
        yield payload, "input"
        return
    if not isinstance(value, list):
        return
    for item in value:
        if not isinstance(item, dict):
            continue
        yield from _message_slots(item)  # a message item: "content" (string or parts)
        for key in ("arguments", "output"):
            if isinstance(item.get(key), str):
                yield item, key


def _message_slots(message: dict[str, Any]) -> Iterator[tuple[Any, Any]]:
    content = message.get("content")
    if isinstance(content, str):
        yield message, "content"
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                yield part, "text"
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        for call in calls:
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                yield function, "arguments"


@dataclass(slots=True)
class Placeholders:
    """Numbered placeholders for one request: the same value always gets the same one."""

    by_value: dict[tuple[EntityType, str], str] = field(default_factory=dict)
    originals: dict[str, str] = field(default_factory=dict)  # placeholder -> value
    _next: dict[EntityType, int] = field(default_factory=dict)

    def name(self, kind: EntityType, value: str) -> str:
        found = self.by_value.get((kind, value))
        if found is None:
            number = self._next.get(kind, 0) + 1
            self._next[kind] = number
            found = f"[{kind.value}_{number}]"
            self.by_value[(kind, value)] = found
            self.originals[found] = value
        return found


@dataclass(slots=True)
class Scan:
    """What the policy found in one request: counts per type, and the redacted body when it changed."""

    counts: dict[str, int]
    body: bytes | None = None  # the re-encoded body after redaction (None: unchanged)
    placeholders: dict[str, str] | None = None


def _scan_and_apply(payload: dict[str, Any], endpoint: Endpoint, policy: PiiPolicy) -> Scan:
    detector = detector_for(policy.entity_types)
    counts: dict[str, int] = {}
    redacting = policy.mode is PiiMode.REDACT
    names = Placeholders()
    changed = False
    for container, key in text_slots(payload, endpoint):
        text: str = container[key]
        findings: list[Finding] = detector.scan(text)
        if not findings:
            continue
        for finding in findings:
            counts[finding.type.value] = counts.get(finding.type.value, 0) + 1
        if redacting:

            def numbered(f: Finding, text: str = text) -> str:
                return names.name(f.type, text[f.start : f.end])

            container[key] = redact(text, findings, numbered)
            changed = True
    if not changed:
        return Scan(counts)
    return Scan(counts, orjson.dumps(payload), names.originals)


async def scan_request(payload: dict[str, Any], endpoint: Endpoint, policy: PiiPolicy, size: int) -> Scan:
    """Scan (and, in redact mode, rewrite in place) the request's texts under ``policy``.

    ``size`` is the body's length: large bodies are scanned in a thread. Any exception propagates:
    the caller refuses the request rather than forwarding it unscanned.
    """
    if size <= _INLINE_CHARS:
        return _scan_and_apply(payload, endpoint, policy)
    return await asyncio.to_thread(_scan_and_apply, payload, endpoint, policy)


def describe(counts: dict[str, int]) -> str:
    """``"KR_PHONE, KR_RRN"``: the types found, never a value (for messages and audit entries)."""
    return ", ".join(sorted(counts))
