"""The response transformers: one chain for complete replies and streams alike.

Each transformer sees a complete JSON reply as a parsed object (edited in place: the reply is
re-encoded only if one of them changed it) and a stream as blocks of complete SSE events (bytes,
from ``SseFramer``). Today: usage (learn it for the ledger; drop the usage-only event the client
did not ask for) and the model's public name. Next: placeholder restore and output scanning of the
personal-data policy. They are made per request by factories composed in the composition root.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import orjson

from onshore.gateway.context import RequestContext
from onshore.gateway.sse import EVENT_END, event_json, usage_counts

# A usage *object* (OpenAI's chunks say "usage":null until the last one): only then is a block parsed.
_USAGE_OBJECT = re.compile(rb'"usage"\s*:\s*\{')


class ResponseTransform(Protocol):
    def on_body(self, payload: dict[str, Any]) -> bool:
        """Edit a complete reply in place; return True if it changed."""
        ...

    def on_events(self, block: bytes) -> bytes:
        """Edit a block of complete SSE events; return what to send (``b""`` drops them all)."""
        ...


TransformFactory = Callable[[RequestContext], "ResponseTransform | None"]


class Usage:
    """Learns the usage the engine reported and keeps the usage-only event only if it was asked for."""

    __slots__ = ("_ctx", "_strip")

    def __init__(self, ctx: RequestContext, *, strip: bool) -> None:
        self._ctx = ctx
        self._strip = strip

    def on_body(self, payload: dict[str, Any]) -> bool:
        usage = payload.get("usage")
        if isinstance(usage, dict):
            self._ctx.set_usage(*usage_counts(usage))
        return False

    def on_events(self, block: bytes) -> bytes:
        # OpenAI-style chunks all say "usage":null; only an event with a usage *object* is parsed,
        # found by position rather than by splitting the block into events (which cost 12 % of a
        # 50-token stream's CPU, py-spy at c=64).
        if b'"usage"' not in block:
            return block
        kept: list[bytes] = []
        copied = handled = 0
        for match in _USAGE_OBJECT.finditer(block):
            if match.start() < handled:
                continue  # a second usage object inside an event already handled
            start = block.rfind(EVENT_END, 0, match.start())
            start = 0 if start < 0 else start + 2
            end = block.find(EVENT_END, match.end())
            end = len(block) if end < 0 else end + 2
            handled = end
            payload = event_json(block[start:end])
            usage = payload.get("usage") if payload is not None else None
            if not isinstance(usage, dict):
                continue
            self._ctx.set_usage(*usage_counts(usage))
            if self._strip and payload is not None and not payload.get("choices"):
                kept.append(block[copied:start])
                copied = end
        if not copied:
            return block
        kept.append(block[copied:])
        return b"".join(kept)


def usage_transform(ctx: RequestContext) -> Usage:
    body = ctx.body
    return Usage(ctx, strip=ctx.stream and not (body is not None and body.include_usage))


class PublicModelName:
    """Replies name the public model, never an upstream alias or a local file path."""

    __slots__ = ("_from", "_public", "_to")

    def __init__(self, upstream: str, public: str) -> None:
        self._public = public
        old, new = orjson.dumps(upstream), orjson.dumps(public)
        self._from = (b'"model":' + old, b'"model": ' + old)
        self._to = (b'"model":' + new, b'"model": ' + new)

    def on_body(self, payload: dict[str, Any]) -> bool:
        if "model" in payload and payload["model"] != self._public:
            payload["model"] = self._public
            return True
        return False

    def on_events(self, block: bytes) -> bytes:
        for old, new in zip(self._from, self._to, strict=True):
            block = block.replace(old, new)
        return block


_RENAMES: dict[tuple[str, str], PublicModelName] = {}  # stateless: one per (upstream, public) pair


def public_model_name(ctx: RequestContext) -> PublicModelName | None:
    route = ctx.route
    if route is None or ctx.model is None:
        return None
    if route.upstream_name == ctx.model and ctx.stream:
        return None  # a stream that already names the public model needs no byte search
    pair = (route.upstream_name, ctx.model)
    rename = _RENAMES.get(pair)
    if rename is None:  # routes come from the configuration: the cache is as small as it is
        rename = _RENAMES[pair] = PublicModelName(*pair)
    return rename


def build(ctx: RequestContext, factories: Sequence[TransformFactory]) -> list[ResponseTransform]:
    made: list[ResponseTransform] = []
    for factory in factories:
        transform = factory(ctx)
        if transform is not None:
            made.append(transform)
    return made
