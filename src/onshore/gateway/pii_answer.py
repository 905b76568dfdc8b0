"""The personal-data policy on the answer: put this request's originals back in place of their
placeholders (``restore``) and redact identifiers the model echoed or invented (``redact_output``).

Both work on complete replies and on streams. In a stream, text is handled per choice as it comes:
a placeholder split across chunks (``[KR_RR`` then ``N_1]``) is held back until it is complete, and
the output redactor holds back only what might still become part of an identifier; whatever is held
is released with the choice's ``finish_reason`` (or before ``[DONE]``). Output is scanned first and
restored second, so the originals a partner sent are never redacted out of its own answer.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from onshore.domain.catalog import Endpoint
from onshore.gateway.context import RequestContext
from onshore.gateway.personal_data import detector_for
from onshore.gateway.sse import EVENT_END, event_json
from onshore.pii import Finding, StreamRedactor, redact

_PLACEHOLDER = re.compile(r"\[(?:KR_[A-Z_]+|CREDIT_CARD|EMAIL|IP_ADDRESS)_\d{1,6}\]")
_PARTIAL = re.compile(r"\[[A-Z_]*\d*\Z")  # what a placeholder's beginning looks like at the end
_LONGEST = 32  # "[KR_DRIVER_LICENSE_999999]" is 26 characters


def _typed(finding: Finding) -> str:
    return f"[{finding.type.value}]"


class Restorer:
    """Replaces this request's placeholders by their originals; unknown ones are left as they are."""

    __slots__ = ("_held", "_originals")

    def __init__(self, originals: dict[str, str]) -> None:
        self._originals = originals
        self._held = ""

    def whole(self, text: str) -> str:
        if "[" not in text:
            return text
        return _PLACEHOLDER.sub(lambda m: self._originals.get(m.group(0), m.group(0)), text)

    def feed(self, text: str) -> str:
        text = self._held + text
        self._held = ""
        at = text.rfind("[")
        if at >= 0 and len(text) - at < _LONGEST and _PARTIAL.match(text, at):
            text, self._held = text[:at], text[at:]
        return self.whole(text)

    def close(self) -> str:
        text, self._held = self._held, ""
        return self.whole(text)

    @property
    def holding(self) -> bool:
        return bool(self._held)


class _Choice:
    """One choice's text on its way out: output redaction, then restore."""

    __slots__ = ("_originals", "redactor", "restorer", "tools")

    def __init__(self, answer: PiiAnswer) -> None:
        self.redactor = StreamRedactor(answer.detector, _typed) if answer.detector is not None else None
        self.restorer = Restorer(answer.originals) if answer.originals else None
        self._originals = answer.originals
        self.tools: dict[int, Restorer] = {}  # tool call index -> its arguments' restorer

    def tool_arguments(self, calls: list[Any]) -> None:
        """Restore placeholders in streamed tool-call arguments (a model calling a tool with the
        partner's value, which only the partner's own code should see)."""
        if not self._originals:
            return
        for call in calls:
            function = call.get("function") if isinstance(call, dict) else None
            if not isinstance(function, dict) or not isinstance(function.get("arguments"), str):
                continue
            index = call.get("index", 0)
            restorer = self.tools.get(index)
            if restorer is None:
                restorer = self.tools[index] = Restorer(self._originals)
            function["arguments"] = restorer.feed(function["arguments"])

    def tool_rest(self) -> list[dict[str, Any]]:
        """What tool-call restorers still hold, as tool-call deltas (at the choice's end)."""
        rest = []
        for index, restorer in sorted(self.tools.items()):
            text = restorer.close()
            if text:
                rest.append({"index": index, "function": {"arguments": text}})
        return rest

    @property
    def holding(self) -> bool:
        return (self.restorer is not None and self.restorer.holding) or any(
            r.holding for r in self.tools.values()
        )

    def feed(self, text: str) -> str:
        if self.redactor is not None:
            text = self.redactor.feed(text)
        return self.restorer.feed(text) if self.restorer is not None else text

    def close(self) -> tuple[str, list[Finding]]:
        text = ""
        findings: list[Finding] = []
        if self.redactor is not None:
            text = self.redactor.close()
            findings = self.redactor.findings
        if self.restorer is not None:
            text = self.restorer.feed(text) + self.restorer.close()
        return text, findings


class PiiAnswer:
    """The response transformer of the personal-data policy (see the module docstring)."""

    __slots__ = ("_choices", "_ctx", "_field", "_template", "detector", "originals")

    def __init__(self, ctx: RequestContext, *, restore: bool, redact_output: bool) -> None:
        pii = ctx.pii
        assert pii is not None
        self._ctx = ctx
        self.originals = ctx.placeholders if restore and ctx.placeholders else {}
        self.detector = detector_for(pii.entity_types) if redact_output else None
        self._field = "text" if ctx.endpoint is Endpoint.COMPLETIONS else "content"
        self._choices: dict[int, _Choice] = {}
        self._template: dict[str, Any] | None = None

    # --- complete replies ---------------------------------------------------------------------

    def on_body(self, payload: dict[str, Any]) -> bool:
        changed = False
        choices = payload.get("choices")
        if not isinstance(choices, list):
            return False
        for choice in choices:
            target = choice.get("message") if self._field == "content" else choice
            if not isinstance(target, dict):
                continue
            text = target.get(self._field)
            if isinstance(text, str):
                new = self._answer(text)
                if new != text:
                    target[self._field] = new
                    changed = True
            calls = target.get("tool_calls")
            if self.originals and isinstance(calls, list):
                changed = self._restore_calls(calls) or changed
        return changed

    def _restore_calls(self, calls: list[Any]) -> bool:
        changed = False
        for call in calls:
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                restored = Restorer(self.originals).whole(function["arguments"])
                changed = changed or restored != function["arguments"]
                function["arguments"] = restored
        return changed

    def _answer(self, text: str) -> str:
        if self.detector is not None:
            findings = self.detector.scan(text)
            if findings:
                self._count(findings)
                text = redact(text, findings, _typed)
        if self.originals:
            text = Restorer(self.originals).whole(text)
        return text

    # --- streams ------------------------------------------------------------------------------

    def on_events(self, block: bytes) -> bytes:
        if self.detector is None and b"[" not in block and not self._holding():
            return block  # restore only, and nothing that could be (part of) a placeholder
        out: list[bytes] = []
        for event in block.split(EVENT_END)[:-1]:
            out.append(self._event(event + EVENT_END))
        return b"".join(out)

    def _event(self, event: bytes) -> bytes:
        payload = event_json(event)
        if payload is None:
            if b"[DONE]" in event:
                return self._flush_all() + event
            return event
        choices = payload.get("choices")
        if not isinstance(choices, list) or not choices:
            return event
        self._template = payload
        for choice in choices:
            if isinstance(choice, dict):
                self._choice(choice)
        return b"data: " + orjson.dumps(payload) + EVENT_END

    def _choice(self, choice: dict[str, Any]) -> None:
        index = choice.get("index", 0)
        index = index if isinstance(index, int) else 0
        state = self._choices.get(index)
        if state is None:
            state = self._choices[index] = _Choice(self)
        holder = choice.get("delta") if self._field == "content" else choice
        if not isinstance(holder, dict):
            return
        text = holder.get(self._field)
        released = state.feed(text) if isinstance(text, str) else None
        calls = holder.get("tool_calls")
        if isinstance(calls, list):
            state.tool_arguments(calls)
        if choice.get("finish_reason"):
            rest, findings = state.close()
            self._count(findings)
            del self._choices[index]
            if rest or released is not None:
                released = (released or "") + rest
            tools = state.tool_rest()
            if tools:
                holder["tool_calls"] = [*(calls if isinstance(calls, list) else ()), *tools]
        if released is not None:
            holder[self._field] = released

    def _holding(self) -> bool:
        return any(c.holding for c in self._choices.values())

    def _flush_all(self) -> bytes:
        """Text still held when the stream ends without a finish_reason: one event per choice."""
        out: list[bytes] = []
        for index, state in sorted(self._choices.items()):
            rest, findings = state.close()
            self._count(findings)
            if rest and self._template is not None:
                payload = dict(self._template)
                delta = {self._field: rest}
                choice = (
                    {"index": index, "delta": delta}
                    if self._field == "content"
                    else {"index": index, **delta}
                )
                payload["choices"] = [{**choice, "finish_reason": None}]
                payload.pop("usage", None)
                out.append(b"data: " + orjson.dumps(payload) + EVENT_END)
        self._choices.clear()
        return b"".join(out)

    def _count(self, findings: list[Finding]) -> None:
        if not findings:
            return
        counts = self._ctx.pii_counts
        if counts is None:
            counts = self._ctx.pii_counts = {}
        for finding in findings:
            name = "output:" + finding.type.value
            counts[name] = counts.get(name, 0) + 1


def pii_answer(ctx: RequestContext) -> PiiAnswer | None:
    """The transformer, when the request's policy restores placeholders or scans the answer."""
    pii = ctx.pii
    if pii is None or ctx.endpoint is Endpoint.EMBEDDINGS:
        return None
    restore = pii.restore and bool(ctx.placeholders)
    if not restore and not pii.redact_output:
        return None
    return PiiAnswer(ctx, restore=restore, redact_output=pii.redact_output)
