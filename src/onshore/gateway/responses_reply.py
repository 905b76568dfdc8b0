"""A chat completion's answer as a Responses API ``response``, complete or streamed.

The last transformer of the chain (after usage, the public model name and the personal-data
restore, so it sees what the partner may see): a complete chat completion becomes a ``response``
object; a chat stream becomes the Responses event sequence the official SDKs parse::

    response.created, response.in_progress
    per text answer:  response.output_item.added, response.content_part.added,
                      response.output_text.delta …, response.output_text.done,
                      response.content_part.done, response.output_item.done
    per tool call:    response.output_item.added, response.function_call_arguments.delta …,
                      response.function_call_arguments.done, response.output_item.done
    response.completed (or response.incomplete when the token limit cut it), with usage

Each event is one SSE event with its ``event:`` line; the chat stream's ``[DONE]`` is not sent on.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from onshore.gateway.context import RequestContext
from onshore.gateway.sse import EVENT_END, event_data

if TYPE_CHECKING:
    from onshore.gateway.responses_native import NativeResponses

_ECHOED = ("instructions", "max_output_tokens", "previous_response_id", "temperature", "top_p", "user")


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(24)}"


@dataclass(slots=True)
class ResponsesExchange:
    """One Responses API request: what the answer echoes, and the answer once it is complete."""

    id: str
    created_at: int
    request: dict[str, Any]  # the partner's Responses body (echoed fields are read from it)
    items: list[dict[str, Any]]  # the full input, history first (stored for input_items)
    store: bool
    final: dict[str, Any] | None = None  # the response object, once complete
    extra: dict[str, Any] = field(default_factory=dict)
    native: bool = False  # the engine serves /v1/responses: its answer passes through as bytes
    ended: bool = False  # the answer's terminal event was seen (a Responses stream has no [DONE])

    def response(
        self, model: str, output: list[dict[str, Any]], status: str, usage: dict[str, Any] | None
    ) -> dict[str, Any]:
        request = self.request
        body: dict[str, Any] = {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "error": None,
            "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
            "model": model,
            "output": output,
            "parallel_tool_calls": request.get("parallel_tool_calls", True) is not False,
            "tool_choice": request.get("tool_choice") or "auto",
            "tools": request.get("tools") or [],
            "text": request.get("text") or {"format": {"type": "text"}},
            "truncation": request.get("truncation") or "disabled",
            "metadata": request.get("metadata") or {},
            "store": self.store,
            "usage": usage,
        }
        for name in _ECHOED:
            body[name] = request.get(name)
        return body


def usage_object(ctx: RequestContext) -> dict[str, Any]:
    return {
        "input_tokens": ctx.prompt_tokens,
        "input_tokens_details": {"cached_tokens": ctx.cached_tokens},
        "output_tokens": ctx.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": ctx.total_tokens,
    }


def _message(item_id: str, text: str, status: str) -> dict[str, Any]:
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    return {"id": item_id, "type": "message", "status": status, "role": "assistant", "content": [part]}


def _call(item_id: str, call_id: str, name: str, arguments: str, status: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


class ResponsesReply:
    """The transformer: chat completion (or chat stream) in, Responses API out."""

    __slots__ = ("_calls", "_ctx", "_finish", "_out", "_seq", "_state", "_text", "_text_id")

    def __init__(self, ctx: RequestContext, state: ResponsesExchange) -> None:
        self._ctx = ctx
        self._state = state
        self._seq = 0
        self._out: list[dict[str, Any]] = []  # output items done, in order
        self._text: list[str] | None = None  # the open message's text so far
        self._text_id = ""
        self._calls: dict[int, dict[str, Any]] = {}  # open tool calls by chat index
        self._finish: str | None = None

    # --- complete ---
    def on_body(self, payload: dict[str, Any]) -> bool:
        choices = payload.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices else {}
        message = choice.get("message") or {}
        output: list[dict[str, Any]] = []
        content = message.get("content")
        if isinstance(content, str) and content:
            output.append(_message(new_id("msg"), content, "completed"))
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            output.append(
                _call(
                    new_id("fc"),
                    call.get("id") or new_id("call"),
                    function.get("name") or "",
                    function.get("arguments") or "",
                    "completed",
                )
            )
        status = "incomplete" if choice.get("finish_reason") == "length" else "completed"
        final = self._state.response(self._model(), output, status, usage_object(self._ctx))
        self._state.final = final
        payload.clear()
        payload.update(final)
        return True

    # --- stream ---
    def on_events(self, block: bytes) -> bytes:
        out: list[bytes] = []
        if self._seq == 0:
            opening = self._state.response(self._model(), [], "in_progress", None)
            self._emit(out, "response.created", {"response": opening})
            self._emit(out, "response.in_progress", {"response": opening})
        for event in block.split(EVENT_END):
            data = event_data(event) if event else None
            if data is None:
                continue
            if data.strip() == b"[DONE]":
                self._complete(out)
                continue
            try:
                chunk = orjson.loads(data)
            except orjson.JSONDecodeError:
                continue
            if isinstance(chunk, dict):
                self._chunk(out, chunk)
        return b"".join(out)

    def _model(self) -> str:
        return self._ctx.model or ""

    def _emit(self, out: list[bytes], kind: str, fields: dict[str, Any]) -> None:
        fields["type"] = kind
        fields["sequence_number"] = self._seq
        self._seq += 1
        out.append(b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(fields) + EVENT_END)

    def _chunk(self, out: list[bytes], chunk: dict[str, Any]) -> None:
        choices = chunk.get("choices")
        if not choices:
            return  # the usage-only chunk: the usage transformer already read it
        choice = choices[0]
        delta = choice.get("delta") or {}
        text = delta.get("content")
        if text:
            if self._text is None:
                self._open_text(out)
            assert self._text is not None
            self._text.append(text)
            self._emit(
                out,
                "response.output_text.delta",
                {
                    "item_id": self._text_id,
                    "output_index": len(self._out),
                    "content_index": 0,
                    "delta": text,
                    "logprobs": [],
                },
            )
        for call in delta.get("tool_calls") or ():
            self._tool_delta(out, call)
        if choice.get("finish_reason"):
            self._finish = choice["finish_reason"]

    def _open_text(self, out: list[bytes]) -> None:
        self._close_calls(out)
        self._text, self._text_id = [], new_id("msg")
        item = _message(self._text_id, "", "in_progress")
        item["content"] = []
        index = len(self._out)
        self._emit(out, "response.output_item.added", {"output_index": index, "item": item})
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        self._emit(
            out,
            "response.content_part.added",
            {"item_id": self._text_id, "output_index": index, "content_index": 0, "part": part},
        )

    def _close_text(self, out: list[bytes]) -> None:
        if self._text is None:
            return
        text, item_id, index = "".join(self._text), self._text_id, len(self._out)
        self._text = None
        common = {"item_id": item_id, "output_index": index, "content_index": 0}
        self._emit(out, "response.output_text.done", {**common, "text": text, "logprobs": []})
        item = _message(item_id, text, "completed")
        self._emit(out, "response.content_part.done", {**common, "part": item["content"][0]})
        self._emit(out, "response.output_item.done", {"output_index": index, "item": item})
        self._out.append(item)

    def _tool_delta(self, out: list[bytes], delta: dict[str, Any]) -> None:
        index = delta.get("index", 0)
        function = delta.get("function") or {}
        call = self._calls.get(index)
        if call is None:
            self._close_text(out)
            call = _call(
                new_id("fc"), delta.get("id") or new_id("call"), function.get("name") or "", "", "in_progress"
            )
            call["output_index"] = len(self._out) + len(self._calls)
            self._calls[index] = call
            item = {k: v for k, v in call.items() if k != "output_index"}
            self._emit(
                out, "response.output_item.added", {"output_index": call["output_index"], "item": item}
            )
        elif function.get("name") and not call["name"]:
            call["name"] = function["name"]
        arguments = function.get("arguments")
        if arguments:
            call["arguments"] += arguments
            self._emit(
                out,
                "response.function_call_arguments.delta",
                {"item_id": call["id"], "output_index": call["output_index"], "delta": arguments},
            )

    def _close_calls(self, out: list[bytes]) -> None:
        for index in sorted(self._calls):
            call = self._calls[index]
            position = call.pop("output_index")
            call["status"] = "completed"
            self._emit(
                out,
                "response.function_call_arguments.done",
                {
                    "item_id": call["id"],
                    "output_index": position,
                    "name": call["name"],
                    "arguments": call["arguments"],
                },
            )
            self._emit(out, "response.output_item.done", {"output_index": position, "item": call})
            self._out.append(call)
        self._calls.clear()

    def _complete(self, out: list[bytes]) -> None:
        self._close_text(out)
        self._close_calls(out)
        status = "incomplete" if self._finish == "length" else "completed"
        final = self._state.response(self._model(), self._out, status, usage_object(self._ctx))
        self._state.final = final
        self._emit(out, f"response.{status}", {"response": final})


def responses_transform(ctx: RequestContext) -> ResponsesReply | NativeResponses | None:
    state = ctx.responses
    if state is None:
        return None
    if state.native:
        from onshore.gateway.responses_native import NativeResponses  # noqa: PLC0415 - import cycle

        return NativeResponses(ctx, state)
    return ResponsesReply(ctx, state)
