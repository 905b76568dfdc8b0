"""Read the OpenAI request fields an embedded model honours; refuse, with a 400, the ones it cannot.

Honoured: ``max_tokens`` (and ``max_completion_tokens``), ``temperature``, ``top_p``, ``stop``,
``seed``, ``stream``, ``stream_options.include_usage``. Refused when set to something other than their
neutral value: ``n`` > 1, ``logprobs``, ``echo``, ``tools``, ``logit_bias``, the penalties and a
``response_format`` other than text. Silently ignoring them would return something the client did
not ask for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from onshore.errors import InvalidRequest

MAX_STOPS = 4
RANDOM_SEED = 0xFFFFFFFF  # llama.cpp's LLAMA_DEFAULT_SEED: pick a random seed


@dataclass(frozen=True, slots=True)
class Sampling:
    max_tokens: int | None
    temperature: float
    top_p: float
    seed: int
    stops: list[str]
    include_usage: bool


def read_sampling(payload: dict[str, Any]) -> Sampling:
    """The sampling fields, checked; raises InvalidRequest naming the bad one."""
    _refuse_unsupported(payload)
    max_tokens = payload.get("max_completion_tokens", payload.get("max_tokens"))
    if max_tokens is not None and (not _is_int(max_tokens) or max_tokens < 1):
        raise InvalidRequest("max_tokens must be a positive integer.", param="max_tokens")
    temperature = _number(payload, "temperature", 1.0, 0.0, 2.0)
    top_p = _number(payload, "top_p", 1.0, 0.0, 1.0)
    if top_p == 0.0:
        raise InvalidRequest("top_p must be greater than 0.", param="top_p")
    seed = payload.get("seed")
    if seed is not None and not _is_int(seed):
        raise InvalidRequest("seed must be an integer.", param="seed")
    options = payload.get("stream_options") or {}
    if not isinstance(options, dict):
        raise InvalidRequest("stream_options must be an object.", param="stream_options")
    return Sampling(
        max_tokens=max_tokens,
        temperature=temperature,
        top_p=top_p,
        seed=RANDOM_SEED if seed is None else _seed32(seed),
        stops=_stops(payload.get("stop")),
        include_usage=bool(options.get("include_usage", False)),
    )


def chat_messages(payload: dict[str, Any]) -> list[dict[str, str]]:
    """``messages`` with each content flattened to text (text parts joined; other parts refused)."""
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("messages must be a non-empty array.", param="messages")
    flat: list[dict[str, str]] = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise InvalidRequest(f"messages[{index}] must be an object with a role.", param="messages")
        flat.append({"role": message["role"], "content": _content(message.get("content"), index)})
    return flat


def completion_prompt(payload: dict[str, Any]) -> str | list[int]:
    """The legacy completions ``prompt``: a string, a one-string list, or one list of token ids."""
    prompt = payload.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str | list):
        prompt = prompt[0]
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list) and prompt and all(_is_int(token) for token in prompt):
        return list(prompt)
    raise InvalidRequest(
        "prompt must be a string or an array of token ids (one prompt per request).", param="prompt"
    )


def _refuse_unsupported(payload: dict[str, Any]) -> None:
    if payload.get("n") not in (None, 1):
        raise InvalidRequest("n must be 1 for this model.", param="n")
    for key in ("logprobs", "echo", "tools", "functions", "logit_bias", "top_logprobs", "suffix"):
        if payload.get(key):
            raise InvalidRequest(f"{key} is not supported by this model.", param=key)
    for key in ("frequency_penalty", "presence_penalty"):
        if payload.get(key) not in (None, 0, 0.0):
            raise InvalidRequest(f"{key} is not supported by this model.", param=key)
    response_format = payload.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") not in (None, "text"):
        raise InvalidRequest("Only the 'text' response_format is supported.", param="response_format")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(payload: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = payload.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidRequest(f"{key} must be a number between {low:g} and {high:g}.", param=key)
    return float(value)


def _seed32(seed: int) -> int:
    value = seed & 0xFFFFFFFF
    return value - 1 if value == RANDOM_SEED else value


def _stops(stop: object) -> list[str]:
    if stop is None:
        return []
    if isinstance(stop, str):
        return [stop] if stop else []
    if isinstance(stop, list) and len(stop) <= MAX_STOPS and all(isinstance(item, str) for item in stop):
        return [item for item in stop if item]
    raise InvalidRequest(f"stop must be a string or an array of at most {MAX_STOPS} strings.", param="stop")


def _content(content: object, index: int) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        texts = []
        for part in content:
            if (
                not isinstance(part, dict)
                or part.get("type") != "text"
                or not isinstance(part.get("text"), str)
            ):
                raise InvalidRequest(
                    f"messages[{index}].content may only hold text parts for this model.", param="messages"
                )
            texts.append(part["text"])
        return "".join(texts)
    raise InvalidRequest(f"messages[{index}].content must be a string or an array.", param="messages")
