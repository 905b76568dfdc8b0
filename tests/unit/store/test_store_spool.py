"""The ledger spool's line format and file bookkeeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from onshore.domain.usage import UsageRecord
from onshore.ports import StoreError
from onshore.store.codecs import USAGE_CODEC
from onshore.store.codecs import decode_usage as decode
from onshore.store.codecs import encode_usage as encode
from onshore.store.spool import Spool, slot_path


def record(request_id: str = "r1", **overrides: object) -> UsageRecord:
    values: dict[str, object] = {
        "request_id": request_id,
        "created_at": datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=UTC),
        "org_id": None,
        "key_id": None,
        "endpoint": "embeddings",
        "model": "minilm",
        "backend": None,
        "status": 429,
        "streamed": False,
        "ttft_ms": None,
        "error_code": "rate_limit_exceeded",
    }
    values.update(overrides)
    return UsageRecord(**values)  # type: ignore[arg-type]


def test_encode_decode_round_trip_keeps_every_field_and_the_instant() -> None:
    original = record(created_at=datetime(2026, 3, 1, 18, 30, tzinfo=timezone(timedelta(hours=9))))
    line = encode(original)
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert decode(line) == original


def test_decode_ignores_fields_it_does_not_know() -> None:
    line = encode(record()).replace(b'{"request_id"', b'{"future_field":1,"request_id"')
    assert decode(line) == record()


def test_slot_paths() -> None:
    base = Path("/data/ledger-spool.jsonl")
    assert slot_path(base, 0) == base
    assert slot_path(base, 3) == Path("/data/ledger-spool.3.jsonl")


def test_replay_writes_in_batches_and_removes_the_file(tmp_path: Path) -> None:
    spool = Spool.claim(tmp_path / "s.jsonl", USAGE_CODEC)
    spool.append([record(f"r{i}") for i in range(7)])
    assert spool.count == 7
    batches: list[list[str]] = []

    written = spool.replay(lambda batch: batches.append([r.request_id for r in batch]), batch_size=3)

    assert written == 7
    assert [len(b) for b in batches] == [3, 3, 1]
    assert spool.count == 0
    assert not spool.path.exists()
    spool.release()


def test_failed_replay_resumes_where_it_stopped(tmp_path: Path) -> None:
    spool = Spool.claim(tmp_path / "s.jsonl", USAGE_CODEC)
    spool.append([record(f"r{i}") for i in range(6)])
    seen: list[str] = []
    calls = 0

    def flaky(batch: list[UsageRecord]) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise StoreError("down")
        seen.extend(r.request_id for r in batch)

    with pytest.raises(StoreError):
        spool.replay(flaky, batch_size=2)
    assert spool.count == 4
    spool.replay(flaky, batch_size=2)

    assert seen == [f"r{i}" for i in range(6)]
    assert not spool.path.exists()
    spool.release()


def test_a_second_claim_gets_the_next_slot(tmp_path: Path) -> None:
    first = Spool.claim(tmp_path / "s.jsonl", USAGE_CODEC)
    second = Spool.claim(tmp_path / "s.jsonl", USAGE_CODEC)
    assert first.path.name == "s.jsonl"
    assert second.path.name == "s.1.jsonl"
    first.release()
    third = Spool.claim(tmp_path / "s.jsonl", USAGE_CODEC)
    assert third.path.name == "s.jsonl"
    second.release()
    third.release()


def test_a_line_spooled_by_the_previous_version_still_replays() -> None:
    # Written before client_request_id existed: the field takes its default.
    line = (
        b'{"request_id":"old","created_at":"2026-03-01T09:30:00+00:00","org_id":null,"key_id":null,'
        b'"endpoint":"embeddings","model":"minilm","backend":null,"status":200,"streamed":false,'
        b'"prompt_tokens":1,"completion_tokens":0,"total_tokens":1,"ttft_ms":null,"latency_ms":2.0,'
        b'"error_code":null}\n'
    )
    decoded = decode(line)
    assert decoded.request_id == "old" and decoded.client_request_id is None


def test_lines_are_ascii_whatever_the_record_holds() -> None:
    # What lets a refused record be set aside as it was: NUL, lone surrogates, non-ASCII all escape.
    line = encode(record(model="x\x00\ud800모델", client_request_id="c\x00"))
    assert line.isascii() and b"\x00" not in line
    assert decode(line).model == "x\x00\ud800모델"


def test_audit_entries_round_trip() -> None:
    from onshore.domain.audit import AuditEntry
    from onshore.store.codecs import AUDIT_CODEC

    entry = AuditEntry.create(
        actor="admin-api",
        action="key.revoke",
        target_type="api_key",
        target_id="key_1",
        org_id="org_1",
        detail={"reason": "leaked", "nested": {"n": 1}},
    )
    assert AUDIT_CODEC.decode(AUDIT_CODEC.encode(entry)) == entry
    assert AUDIT_CODEC.key(entry) == entry.id
