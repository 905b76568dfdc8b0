"""Request ids and bounded body reads (onshore.api.http)."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest

from onshore.api.http import (
    BODY_REFUSED,
    Exchange,
    RequestIds,
    client_request_id,
    read_body,
)
from onshore.errors import ClientClosed, InvalidRequest, OnshoreError, PayloadTooLarge, RequestTimeout


def test_server_ids_are_random_128_bit_hex_and_never_repeat() -> None:
    ids = RequestIds()
    many = [ids.next() for _ in range(5000)]  # crosses the 256-id pool many times
    assert len(set(many)) == len(many)
    assert all(re.fullmatch(r"req_[0-9a-f]{32}", i) for i in many)
    # No shared prefix beyond chance: a counter or a fixed per-process prefix would show here.
    assert len({i[4:12] for i in many}) > 4990


def test_two_generators_share_nothing() -> None:
    first, second = RequestIds(), RequestIds()
    assert not {first.next() for _ in range(300)} & {second.next() for _ in range(300)}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_a_forked_child_does_not_reuse_its_parents_pool() -> None:
    ids = RequestIds()
    ids.next()  # fills the pool
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next id and leave at once
        os.write(write, ids.next().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 100).decode()
    os.close(read)
    os.close(write)
    assert child != ids.next()


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({b"x-client-request-id": b"abc-123"}, "abc-123"),
        ({b"x-request-id": b"0b8e2f4c-5a6d-4e7f-8a9b-0c1d2e3f4a5b"}, "0b8e2f4c-5a6d-4e7f-8a9b-0c1d2e3f4a5b"),
        ({b"x-client-request-id": b"first", b"x-request-id": b"second"}, "first"),
        ({b"x-request-id": b"x" * 128}, "x" * 128),
        ({b"x-request-id": b"x" * 129}, None),
        ({b"x-request-id": b"with space"}, None),
        ({b"x-request-id": b"tab\there"}, None),
        ({b"x-request-id": "é".encode()}, None),
        ({b"x-request-id": b""}, None),
        ({}, None),
    ],
)
def test_the_clients_id_is_kept_only_when_valid(headers: dict[bytes, bytes], expected: str | None) -> None:
    assert client_request_id(headers) == expected


def test_the_exchange_carries_both_ids() -> None:
    async def never() -> dict[str, Any]:
        raise AssertionError

    async def drop(message: Any) -> None:
        raise AssertionError

    exchange = Exchange({}, never, drop, {b"x-request-id": b"mine"}, "req_" + "0" * 32)
    assert (exchange.request_id, exchange.client_request_id) == ("req_" + "0" * 32, "mine")


def _receiver(
    *messages: dict[str, Any],
    scope: dict[str, Any] | None = None,
    flag_after: int = -1,
    refusal: OnshoreError | None = None,
) -> Any:
    """A receive() that plays the messages; after ``flag_after`` of them the edge refuses the body
    (by default: it timed out)."""
    queue = list(messages)
    calls = 0

    async def receive() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if scope is not None and calls - 1 == flag_after:
            scope[BODY_REFUSED] = refusal or RequestTimeout()
        return queue.pop(0)

    return receive


async def test_a_body_in_one_message_is_read_without_looking_at_the_scope() -> None:
    receive = _receiver({"type": "http.request", "body": b"abc", "more_body": False})
    assert await read_body(receive, {}, 10, None) == b"abc"


async def test_a_body_in_pieces_is_joined() -> None:
    receive = _receiver(
        {"type": "http.request", "body": b"ab", "more_body": True},
        {"type": "http.request", "body": b"cd", "more_body": False},
    )
    assert await read_body(receive, {}, 10, {}) == b"abcd"


async def test_a_body_the_edge_timed_out_is_a_408() -> None:
    scope: dict[str, Any] = {}
    # The edge sets the flag and wakes receive(), which then returns an empty, unfinished piece.
    receive = _receiver(
        {"type": "http.request", "body": b"ab", "more_body": True},
        {"type": "http.request", "body": b"", "more_body": True},
        scope=scope,
        flag_after=1,
    )
    with pytest.raises(RequestTimeout) as info:
        await read_body(receive, {}, 10, scope)
    assert (info.value.status, info.value.code) == (408, "request_timeout")


async def test_a_body_the_edge_found_malformed_is_a_400() -> None:
    scope: dict[str, Any] = {}
    receive = _receiver(
        {"type": "http.request", "body": b"", "more_body": True},
        {"type": "http.request", "body": b"", "more_body": True},
        scope=scope,
        flag_after=0,
        refusal=InvalidRequest("The HTTP request is malformed.", code="invalid_http_request"),
    )
    with pytest.raises(InvalidRequest) as info:
        await read_body(receive, {}, 10, scope)
    assert (info.value.status, info.value.code) == (400, "invalid_http_request")


async def test_too_large_and_gone() -> None:
    with pytest.raises(PayloadTooLarge):
        await read_body(_receiver(), {b"content-length": b"11"}, 10)
    with pytest.raises(ClientClosed):
        await read_body(_receiver({"type": "http.disconnect"}), {}, 10)
