"""The scripted engine's own ``/v1/responses`` (as recent vLLM serves part of it): the answer echoes
the last input text, carries a marker field no translation would make (``engine_marker``) and the
usage 7 input / 4 output tokens; a stream ends with ``response.completed`` (no ``[DONE]``)."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

MARKER = "native-engine-7f3a"
USAGE = {
    "input_tokens": 7,
    "input_tokens_details": {"cached_tokens": 2},
    "output_tokens": 4,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 11,
}


def _last_text(body: dict[str, Any]) -> str:
    value = body.get("input")
    if isinstance(value, str):
        return value
    content = value[-1].get("content") if isinstance(value, list) and value else None
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def _response(body: dict[str, Any], text: str, status: str, usage: dict[str, Any] | None) -> dict[str, Any]:
    output = [
        {
            "id": "msg_native1",
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        }
    ]
    return {
        "id": f"resp_native{abs(hash(text)) % 10**8}",
        "object": "response",
        "created_at": 1700000000,
        "status": status,
        "model": body.get("model"),
        "output": output if status == "completed" else [],
        "previous_response_id": body.get("previous_response_id"),
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": usage,
        "engine_marker": MARKER,
    }


def _event(kind: str, seq: int, fields: dict[str, Any]) -> bytes:
    data = orjson.dumps({"type": kind, "sequence_number": seq, **fields})
    return b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n"


async def serve_responses(request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
    text = _last_text(body)
    if not body.get("stream"):
        return web.json_response(_response(body, text, "completed", USAGE))
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(
        _event("response.created", 0, {"response": _response(body, "", "in_progress", None)})
    )
    seq = 1
    for i in range(0, len(text), 4):
        piece = {"item_id": "msg_native1", "output_index": 0, "content_index": 0, "delta": text[i : i + 4]}
        await response.write(_event("response.output_text.delta", seq, piece))
        seq += 1
    await response.write(
        _event("response.completed", seq, {"response": _response(body, text, "completed", USAGE)})
    )
    await response.write_eof()
    return response
