from __future__ import annotations

import orjson
import pytest

from onshore.domain.catalog import Endpoint
from onshore.errors import InvalidRequest
from onshore.gateway.request_body import MAX_NESTING, parse_body, upstream_body

CHAT = b'{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"a":1}],"x_vendor":{"k":[1,2.5]}}'


def test_untouched_body_is_forwarded_as_the_same_bytes() -> None:
    parsed = parse_body(CHAT, Endpoint.CHAT)
    assert upstream_body(parsed, "m") is CHAT


def test_alias_rewrites_only_the_model() -> None:
    parsed = parse_body(CHAT, Endpoint.CHAT)
    out = orjson.loads(upstream_body(parsed, "org/real-name"))
    assert out == {**orjson.loads(CHAT), "model": "org/real-name"}


def test_streams_always_ask_the_engine_for_usage() -> None:
    raw = b'{"model":"m","messages":[{"role":"user"}],"stream":true}'
    parsed = parse_body(raw, Endpoint.CHAT)
    assert parsed.stream and not parsed.include_usage
    assert orjson.loads(upstream_body(parsed, "m"))["stream_options"] == {"include_usage": True}
    raw_usage = (
        b'{"model":"m","messages":[{"role":"user"}],"stream":true,"stream_options":{"include_usage":true}}'
    )
    parsed = parse_body(raw_usage, Endpoint.CHAT)
    assert parsed.include_usage and upstream_body(parsed, "m") is raw_usage


@pytest.mark.parametrize(
    ("raw", "endpoint", "param"),
    [
        (b"", Endpoint.CHAT, None),
        (b"{", Endpoint.CHAT, None),
        (b'"text"', Endpoint.CHAT, None),
        (b'{"messages":[{"role":"user"}]}', Endpoint.CHAT, "model"),
        (b'{"model":"m","messages":[]}', Endpoint.CHAT, "messages"),
        (b'{"model":"m","messages":[1]}', Endpoint.CHAT, "messages[0]"),
        (b'{"model":"m","prompt":{}}', Endpoint.COMPLETIONS, "prompt"),
        (b'{"model":"m"}', Endpoint.EMBEDDINGS, "input"),
        (b'{"model":"m","input":[]}', Endpoint.EMBEDDINGS, "input"),
        (b'{"model":"m","messages":[{"role":"u"}],"temperature":"hot"}', Endpoint.CHAT, "temperature"),
        (b'{"model":"m","messages":[{"role":"u"}],"stream_options":3}', Endpoint.CHAT, "stream_options"),
        (b'{"model":"\xff"}', Endpoint.CHAT, None),
    ],
)
def test_invalid_bodies_name_the_field(raw: bytes, endpoint: Endpoint, param: str | None) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_body(raw, endpoint)
    assert info.value.param == param
    assert info.value.status == 400


@pytest.mark.parametrize(
    "raw",
    [
        b'{"model":"premium","model":"cheap","messages":[{"role":"user"}]}',
        b'{"model":"m","stream":false,"stream":true,"messages":[{"role":"user"}]}',
        b'{"model":"premium","\\u006dodel":"cheap","messages":[{"role":"user"}]}',
    ],
    ids=["model", "stream", "escaped"],
)
def test_a_decided_field_named_twice_is_refused(raw: bytes) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_body(raw, Endpoint.CHAT)
    assert "more than once" in info.value.message


def test_the_same_name_in_a_nested_object_is_fine() -> None:
    raw = b'{"model":"m","messages":[{"role":"user"}],"tools":[{"function":{"parameters":{"model":{},"stream":{}}}}]}'
    assert parse_body(raw, Endpoint.CHAT).model == "m"


@pytest.mark.parametrize("model", ["m\u0000", "m\n", "x" * 257])
def test_model_names_the_ledger_cannot_hold_are_refused(model: str) -> None:
    with pytest.raises(InvalidRequest):
        parse_body(orjson.dumps({"model": model, "messages": [{"role": "user"}]}), Endpoint.CHAT)


def _nested(depth: int, extra: bytes = b"") -> bytes:
    """A chat body whose deepest array is ``depth`` levels down, the top object counted."""
    return (
        b'{"model":"m","messages":[{"role":"user"'
        + extra
        + b'}],"x":'
        + b"[" * (depth - 1)
        + b"]" * (depth - 1)
        + b"}"
    )


@pytest.mark.parametrize("extra", [b"", b',"content":"\\u0041"'], ids=["plain", "escaped"])
@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 1000, 1024])
def test_nesting_too_deep_to_write_back_is_refused(depth: int, extra: bytes) -> None:
    """1,000 levels with an escape made the duplicate-key check recurse past Python's limit, and 255
    levels on a stream or an alias could not be written back upstream: both were a 500."""
    with pytest.raises(InvalidRequest) as info:
        parse_body(_nested(depth, extra), Endpoint.CHAT)
    assert "levels deep" in info.value.message


def test_nesting_as_deep_as_allowed_goes_upstream_rewritten() -> None:
    parsed = parse_body(
        _nested(MAX_NESTING, b',"content":"\\u0041"')[:-1] + b',"stream":true}', Endpoint.CHAT
    )
    assert orjson.loads(upstream_body(parsed, "alias"))["model"] == "alias"
