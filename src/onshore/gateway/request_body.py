"""Read the few fields the gateway needs from a request body; forward everything else untouched.

The body is parsed once (orjson) to read ``model``, ``stream`` and ``stream_options``. It is only
re-encoded when the gateway must change it (an upstream alias for the model name, or asking the
upstream for usage on a stream); otherwise the partner's bytes are forwarded as they came.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import orjson

from onshore.domain.catalog import Endpoint
from onshore.errors import InvalidRequest

MAX_MODEL_NAME = 256  # longer names are refused: they would be echoed back and stored in the ledger
# Arrays and objects nest at most this deep: as deep as orjson writes back. It reads 1,024 levels, and
# a body nested between the two was a 500 wherever the gateway re-encodes it (an alias, a stream, a
# redaction); Python's json (the duplicate-key check) recursed past its limit at about 1,000. A
# tool's JSON schema, the deepest thing a real request carries, nests a dozen levels.
MAX_NESTING = 254
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# The fields the gateway decides on. A body that names one twice is refused: orjson keeps the last
# value, an engine may keep the first, and the raw bytes go upstream unchanged, so a key limited to a
# cheap model could otherwise be served a premium one.
_DECIDED = frozenset({"model", "stream", "stream_options"})


@dataclass(slots=True)
class ParsedBody:
    payload: dict[str, Any]
    model: str
    stream: bool
    include_usage: bool  # what the client asked for (we always ask the upstream)
    raw: bytes = b""  # the body as the partner sent it: forwarded as is unless a field must change


def parse_body(raw: bytes, endpoint: Endpoint) -> ParsedBody:
    if not raw:
        raise InvalidRequest("The request body is empty; expected a JSON object.")
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        # Also covers invalid UTF-8: orjson rejects it rather than guessing.
        raise InvalidRequest("The request body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    _refuse_deep_nesting(raw, payload)
    _refuse_duplicate_decided_keys(raw)
    model = payload.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("'model' is required and must be a non-empty string.", param="model")
    if len(model) > MAX_MODEL_NAME or _CONTROL.search(model):
        raise InvalidRequest(
            f"'model' must be at most {MAX_MODEL_NAME} characters, without control characters.",
            param="model",
        )
    stream = payload.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise InvalidRequest("'stream' must be a boolean.", param="stream")
    if not endpoint.generates:  # embeddings, rerank, score: never streamed
        _check_embeddings_input(payload, endpoint)
        stream = False
    else:
        _check_generation_fields(payload, endpoint)
    include_usage = False
    options = payload.get("stream_options")
    if options is not None:
        if not isinstance(options, dict):
            raise InvalidRequest("'stream_options' must be an object.", param="stream_options")
        flag = options.get("include_usage", False)
        if not isinstance(flag, bool):
            raise InvalidRequest(
                "'stream_options.include_usage' must be a boolean.", param="stream_options.include_usage"
            )
        include_usage = flag
    return ParsedBody(payload=payload, model=model, stream=stream, include_usage=include_usage, raw=raw)


def _refuse_deep_nesting(raw: bytes, payload: dict[str, Any]) -> None:
    """Refuse a body whose arrays and objects nest deeper than ``MAX_NESTING``.

    Nesting cannot be deeper than the count of ``[`` and ``{`` bytes, so two byte counts clear almost
    every body; a body with more of them (a long chat, code in a prompt) is encoded once, which is
    exactly the test and costs about a third of its parse (measured: a 300-message chat, 20 KB,
    45 µs against 145 µs; walking it in Python cost twice the parse).
    """
    if raw.count(b"[") + raw.count(b"{") <= MAX_NESTING:
        return
    try:
        orjson.dumps(payload)
    except orjson.JSONEncodeError:
        raise InvalidRequest(
            f"The request body nests arrays and objects more than {MAX_NESTING} levels deep."
        ) from None


def _refuse_duplicate_decided_keys(raw: bytes) -> None:
    """Refuse a body whose top-level object names ``model``, ``stream`` or ``stream_options`` twice.

    The fast path is three byte counts: with no ``\\u00`` escape in the body, a key can only spell
    one of these names literally, so a count of at most one each proves there is no duplicate
    (measured: about 0.1 µs per KB). Otherwise (a name used again in a nested object, or escapes that
    could spell a key) the body is parsed once more keeping every key, which is exact.
    """
    if (
        b"\\u00" not in raw
        and raw.count(b'"model"') <= 1
        and raw.count(b'"stream"') <= 1
        and raw.count(b'"stream_options"') <= 1
    ):
        return
    duplicates: list[str | None] = []

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        repeated = None
        for key, _ in pairs:
            if key in _DECIDED:
                if key in seen:
                    repeated = key
                seen.add(key)
        duplicates.append(repeated)  # the outermost object is the last one finished
        return dict(pairs)

    json.loads(raw, object_pairs_hook=pairs_hook)
    if duplicates and duplicates[-1] is not None:
        name = duplicates[-1]
        raise InvalidRequest(f"The request body names '{name}' more than once.", param=name)


def _check_generation_fields(payload: dict[str, Any], endpoint: Endpoint) -> None:
    if endpoint is Endpoint.CHAT:
        messages = payload.get("messages")
        if not isinstance(messages, list) or not messages:
            raise InvalidRequest("'messages' must be a non-empty array.", param="messages")
        for index, message in enumerate(messages):
            if not isinstance(message, dict) or not isinstance(message.get("role"), str):
                raise InvalidRequest(
                    "Each message must be an object with a string 'role'.", param=f"messages[{index}]"
                )
    elif endpoint is Endpoint.RESPONSES:
        pass  # 'input' is read item by item where it is translated (gateway/responses_request.py)
    else:
        prompt = payload.get("prompt")
        if prompt is None or isinstance(prompt, dict | bool | int | float):
            raise InvalidRequest("'prompt' must be a string or an array.", param="prompt")
    for name in ("max_tokens", "max_completion_tokens", "n"):
        value = payload.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise InvalidRequest(f"'{name}' must be a non-negative integer.", param=name)
    for name in ("temperature", "top_p"):
        value = payload.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise InvalidRequest(f"'{name}' must be a number.", param=name)


def _check_embeddings_input(payload: dict[str, Any], endpoint: Endpoint) -> None:
    if endpoint is not Endpoint.EMBEDDINGS:
        return  # rerank and score: the engine checks its own fields
    value = payload.get("input")
    if isinstance(value, str):
        return
    if isinstance(value, list) and value:
        return
    raise InvalidRequest("'input' must be a string or a non-empty array.", param="input")


def upstream_body(parsed: ParsedBody, upstream_model: str) -> bytes:
    """The bytes to send upstream: the original ones unless a field must change."""
    needs_usage = parsed.stream and not parsed.include_usage
    if upstream_model == parsed.model and not needs_usage:
        return parsed.raw
    payload = dict(parsed.payload)
    payload["model"] = upstream_model
    if needs_usage:
        options = dict(payload.get("stream_options") or {})
        options["include_usage"] = True
        payload["stream_options"] = options
    parsed.payload = payload
    return orjson.dumps(payload)
