from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from onshore.gateway.sse import SseRelay, error_event, usage_counts


def _event(payload: object) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


CHUNK = _event({"id": "c", "model": "up", "choices": [{"index": 0, "delta": {"content": "hi"}}]})
USAGE = _event(
    {
        "id": "c",
        "model": "up",
        "choices": [],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }
)
DONE = b"data: [DONE]\n\n"
STREAM = CHUNK + CHUNK + USAGE + DONE


def _run(relay: SseRelay, pieces: list[bytes]) -> bytes:
    return b"".join(relay.feed(p) for p in pieces) + relay.flush()


def test_usage_is_learned_and_stripped() -> None:
    relay = SseRelay(strip_usage=True)
    out = _run(relay, [STREAM])
    assert out == CHUNK + CHUNK + DONE
    assert usage_counts(relay.usage) == (3, 2, 5)
    assert relay.saw_done


def test_usage_kept_when_asked() -> None:
    relay = SseRelay(strip_usage=False)
    assert _run(relay, [STREAM]) == STREAM


def test_model_alias_is_rewritten() -> None:
    relay = SseRelay(strip_usage=False, upstream_model="up", public_model="public")
    out = _run(relay, [STREAM])
    assert b'"model":"up"' not in out and out.count(b'"model":"public"') == 3


@given(st.lists(st.integers(min_value=1, max_value=len(STREAM) - 1), max_size=12))
def test_any_split_gives_the_same_bytes(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    pieces = [STREAM[a:b] for a, b in zip([0, *points], [*points, len(STREAM)], strict=True)]
    relay = SseRelay(strip_usage=True)
    assert _run(relay, pieces) == CHUNK + CHUNK + DONE
    assert usage_counts(relay.usage) == (3, 2, 5)


def test_crlf_framing_is_understood() -> None:
    relay = SseRelay(strip_usage=True)
    out = _run(relay, [STREAM.replace(b"\n", b"\r\n")])
    assert out == CHUNK + CHUNK + DONE


def test_missing_done_is_noticed() -> None:
    relay = SseRelay(strip_usage=True)
    _run(relay, [CHUNK])
    assert not relay.saw_done


def test_error_event_is_openai_shaped() -> None:
    payload = orjson.loads(error_event("boom", "upstream_error", "upstream_error")[6:])
    assert payload == {
        "error": {"message": "boom", "type": "upstream_error", "param": None, "code": "upstream_error"}
    }


def test_usage_counts_ignores_garbage() -> None:
    assert usage_counts({"prompt_tokens": "3", "completion_tokens": -1}) == (0, 0, 0)
    assert usage_counts({"prompt_tokens": 3, "completion_tokens": 4}) == (3, 4, 7)
