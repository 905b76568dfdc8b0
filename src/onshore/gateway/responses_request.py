"""A Responses API request as the chat completion a backend without ``/v1/responses`` serves.

Translated once, after the body is read, so every later step (access, sovereignty and its
personal-data policy, admission, routing, dispatch) sees an ordinary chat completion and runs
unchanged. What maps:

    instructions                 → a system message, first
    input (string)               → one user message
    input items: message         → a message (``developer`` → ``system``; ``input_text`` and
                                   ``output_text`` parts → text, ``input_image`` → ``image_url``)
                 function_call   → an assistant message's ``tool_calls`` (consecutive calls merge)
                 function_call_output → a ``tool`` message
                 reasoning       → dropped (a chat engine cannot take it back)
    tools (function)             → chat tools; any other tool type is refused (400)
    tool_choice, parallel_tool_calls, temperature, top_p → the same fields
    max_output_tokens            → max_tokens
    text.format json_schema/json_object → response_format
"""

from __future__ import annotations

from typing import Any

from onshore.errors import InvalidRequest

Item = dict[str, Any]
Message = dict[str, Any]

_TEXT_PARTS = frozenset({"input_text", "output_text", "text", "summary_text", "refusal"})
_COPIED = ("temperature", "top_p", "parallel_tool_calls", "user", "seed")


def input_items(payload: dict[str, Any]) -> list[Item]:
    """The request's ``input`` as a list of items (a string is one user message)."""
    value = payload.get("input")
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": value}]}]
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return value
    raise InvalidRequest("'input' must be a string or an array of input items.", param="input")


def to_chat(payload: dict[str, Any], items: list[Item], *, stream: bool) -> dict[str, Any]:
    """The chat completion body for a Responses request whose full input (history first) is ``items``."""
    messages: list[Message] = []
    instructions = payload.get("instructions")
    if isinstance(instructions, str) and instructions:
        messages.append({"role": "system", "content": instructions})
    elif instructions is not None and not isinstance(instructions, str):
        raise InvalidRequest("'instructions' must be a string.", param="instructions")
    for index, item in enumerate(items):
        _add_item(messages, item, index)
    if not messages:
        raise InvalidRequest("'input' must not be empty.", param="input")
    chat: dict[str, Any] = {"model": payload["model"], "messages": messages}
    if stream:
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}  # response.completed carries the usage
    for name in ("store", "stream", "parallel_tool_calls"):
        if payload.get(name) is not None and not isinstance(payload[name], bool):
            raise InvalidRequest(f"'{name}' must be a boolean.", param=name)
    for name in _COPIED:
        if payload.get(name) is not None:
            chat[name] = payload[name]
    limit = payload.get("max_output_tokens")
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidRequest("'max_output_tokens' must be a positive integer.", param="max_output_tokens")
        chat["max_tokens"] = limit
    _add_tools(chat, payload)
    response_format = _response_format(payload.get("text"))
    if response_format is not None:
        chat["response_format"] = response_format
    return chat


def _add_tools(chat: dict[str, Any], payload: dict[str, Any]) -> None:
    # Both checked even when there is no tool: a malformed field is refused, never ignored.
    tools = _as_list(payload.get("tools", []), "tools") if payload.get("tools") is not None else []
    choice = payload.get("tool_choice")
    chosen = _tool_choice(choice) if choice is not None else None
    if not tools:
        chat.pop("parallel_tool_calls", None)  # engines refuse it without tools
        chat.pop("tool_choice", None)
        return
    chat["tools"] = [_tool(tool, i) for i, tool in enumerate(tools)]
    if chosen is not None:
        chat["tool_choice"] = chosen


def _as_list(value: object, param: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidRequest(f"'{param}' must be an array.", param=param)
    return value


def _add_item(messages: list[Message], item: Item, index: int) -> None:
    kind = item.get("type", "message")
    if kind == "message":
        role = item.get("role")
        if role not in ("user", "assistant", "system", "developer"):
            raise InvalidRequest(
                "A message's 'role' must be user, assistant, system or developer.",
                param=f"input[{index}].role",
            )
        content = _content(item.get("content"), index, assistant=role == "assistant")
        messages.append({"role": "system" if role == "developer" else role, "content": content})
    elif kind == "function_call":
        call = {
            "id": _string(item, "call_id", index),
            "type": "function",
            "function": {"name": _string(item, "name", index), "arguments": item.get("arguments") or ""},
        }
        last = messages[-1] if messages else None
        if last is not None and last["role"] == "assistant" and not _has_text(last):
            last.setdefault("tool_calls", []).append(call)
        else:
            messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
    elif kind == "function_call_output":
        output = item.get("output")
        text = output if isinstance(output, str) else _text_of(output)
        messages.append({"role": "tool", "tool_call_id": _string(item, "call_id", index), "content": text})
    elif kind == "reasoning":
        return
    else:
        raise InvalidRequest(
            f"Input items of type '{str(kind)[:64]}' are not supported by this model.",
            param=f"input[{index}]",
        )


def _has_text(message: Message) -> bool:
    content = message.get("content")
    return bool(content) and "tool_calls" not in message


def _string(item: Item, name: str, index: int) -> str:
    value = item.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"'{name}' must be a non-empty string.", param=f"input[{index}].{name}")
    return value


def _content(value: object, index: int, *, assistant: bool) -> Any:
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise InvalidRequest("A message's 'content' must be a string or an array.", param=f"input[{index}]")
    if assistant or all(isinstance(p, dict) and p.get("type") in _TEXT_PARTS for p in value):
        return _text_of(value)  # chat engines take an assistant's content as a string only
    parts: list[dict[str, Any]] = []
    for part in value:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in _TEXT_PARTS:
            parts.append({"type": "text", "text": part.get("text") or ""})
        elif kind == "input_image" and isinstance(part.get("image_url"), str):
            image: dict[str, Any] = {"url": part["image_url"]}
            if part.get("detail") in ("low", "high", "auto"):
                image["detail"] = part["detail"]
            parts.append({"type": "image_url", "image_url": image})
        else:
            raise InvalidRequest(
                "Content parts other than text and image URLs are not supported by this model.",
                param=f"input[{index}].content",
            )
    return parts


def _text_of(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(
            str(p.get("text") or "") for p in value if isinstance(p, dict) and p.get("type") in _TEXT_PARTS
        )
    return ""


def _tool(tool: object, index: int) -> dict[str, Any]:
    if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(tool.get("name"), str):
        raise InvalidRequest(
            "Only function tools are supported by this model (built-in tools need a backend that "
            "serves the Responses API itself).",
            param=f"tools[{index}]",
        )
    function: dict[str, Any] = {"name": tool["name"]}
    for name in ("description", "parameters", "strict"):
        if tool.get(name) is not None:
            function[name] = tool[name]
    return {"type": "function", "function": function}


def _tool_choice(choice: object) -> object:
    if isinstance(choice, str):
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function" and isinstance(choice.get("name"), str):
        return {"type": "function", "function": {"name": choice["name"]}}
    raise InvalidRequest("'tool_choice' must be auto, none, required or a function.", param="tool_choice")


def _response_format(text: object) -> dict[str, Any] | None:
    if text is None:
        return None
    if not isinstance(text, dict):
        raise InvalidRequest("'text' must be an object.", param="text")
    fmt = text.get("format")
    if not isinstance(fmt, dict):
        return None
    kind = fmt.get("type")
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if fmt.get(k) is not None}
        return {"type": "json_schema", "json_schema": schema}
    return None
