"""Isolating refused records: every other record written once, every refused one set aside once."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onshore.ports import StoreError
from onshore.store.setaside import (
    MAX_KEY_CHARS,
    MAX_PAYLOAD_CHARS,
    RecordsRefused,
    Rejected,
    SetAsideFile,
    WriteInterrupted,
    bounded_payload,
    is_refusal,
    reason_of,
    safe_key,
    write_isolating,
)


class RefusingWriter:
    """All or nothing per call, like one database transaction; refuses any batch holding a bad id."""

    def __init__(self, bad: set[int], error: Exception | None = None) -> None:
        self.bad = bad
        self.error = error or RecordsRefused("refused", "DataError")
        self.stored: list[int] = []
        self.calls = 0

    def __call__(self, batch: list[int]) -> None:
        self.calls += 1
        if any(item in self.bad for item in batch):
            raise self.error
        self.stored.extend(batch)


@settings(max_examples=300, deadline=None)
@given(
    size=st.integers(min_value=0, max_value=300),
    bad_fraction=st.sampled_from([0.0, 0.01, 0.1, 0.5, 1.0]),
    seed=st.randoms(use_true_random=False),
)
def test_every_good_record_is_written_once_and_every_bad_one_set_aside_once(
    size: int, bad_fraction: float, seed: random.Random
) -> None:
    # hypothesis' Random, so a failure shrinks and replays
    bad = {i for i in range(size) if seed.random() < bad_fraction}
    writer = RefusingWriter(bad)
    refused: list[int] = []

    written = write_isolating(list(range(size)), writer, lambda item, exc: refused.append(item))

    assert writer.stored == [i for i in range(size) if i not in bad]  # once each, in order
    assert written == size - len(bad)
    assert refused == sorted(bad)
    # Bounded work: one call for a clean batch, about 2·k·log2(n) more with k bad records.
    assert writer.calls <= 1 + 2 * len(bad) * max(1, size.bit_length())


def test_a_transient_failure_stops_and_reports_what_was_not_written() -> None:
    calls = 0

    def flaky(batch: list[int]) -> None:
        nonlocal calls
        calls += 1
        if calls == 4:  # the database goes away in the middle of the bisection
            raise StoreError("down")
        if 3 in batch and len(batch) > 1:
            raise RecordsRefused("refused", "DataError")

    with pytest.raises(WriteInterrupted) as raised:
        write_isolating(list(range(8)), flaky, lambda item, exc: None)

    assert isinstance(raised.value.__cause__, StoreError)
    # calls: [0..7] refused, [0..3] refused, [0,1] written, [2,3] down: nothing of 2..7 written yet
    assert raised.value.remaining == [2, 3, 4, 5, 6, 7]


def test_errors_that_are_not_store_errors_count_as_refusals() -> None:
    # A driver that cannot encode a value raises ValueError: retrying would loop for ever.
    assert is_refusal(RecordsRefused("x", "DataError"))
    assert is_refusal(ValueError("x"))
    assert is_refusal(UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"))
    assert not is_refusal(StoreError("the database is unavailable"))
    assert reason_of(RecordsRefused("x", "NotNullViolation")) == "NotNullViolation"
    assert reason_of(ValueError("secret value in the message")) == "ValueError"


def test_keys_and_payloads_are_printable_ascii_and_bounded() -> None:
    assert safe_key("req_123") == "req_123"
    assert safe_key("a\x00b\n") == "a\\x00b\\n"
    assert len(safe_key("é" * 1000)) == MAX_KEY_CHARS
    line = json.dumps({"model": "x\x00"}).encode() + b"\n"
    assert bounded_payload(line) == '{"model": "x\\u0000"}'
    huge = bounded_payload(b'{"model":"' + b"x" * (MAX_PAYLOAD_CHARS * 2) + b'"}\n')
    assert len(huge) < MAX_PAYLOAD_CHARS + 100 and json.loads(huge)["truncated"] is True


def test_set_aside_file_appends_whole_lines(tmp_path: Path) -> None:
    file = SetAsideFile.beside(tmp_path / "spool" / "ledger-spool.jsonl")
    assert file.path.name == "ledger-spool.rejected.jsonl"
    at = datetime(2026, 3, 1, tzinfo=UTC)
    file.append([Rejected("usage", "r1", "DataError", '{"model":"x\\u0000"}', at)])
    file.append([Rejected("usage", "r2", "ValueError", "{}", at), Rejected("audit", "a1", "X", "{}", at)])

    entries = file.read()

    assert [e["key"] for e in entries] == ["r1", "r2", "a1"]
    assert entries[0] == {
        "kind": "usage",
        "key": "r1",
        "reason": "DataError",
        "at": at.isoformat(),
        "payload": '{"model":"x\\u0000"}',
    }
    assert b"\x00" not in file.path.read_bytes()
    assert file.path.stat().st_mode & 0o777 == 0o600
