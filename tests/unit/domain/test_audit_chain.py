"""The hash chain's format and its verification, as pure functions (no database, no key)."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from onshore.domain.audit import AuditEntry
from onshore.domain.audit_chain import (
    GENESIS_HASH,
    Checkpoint,
    canonical_at,
    canonical_bytes,
    chain,
    checkpoint_message,
    link_hash,
    normalise_detail,
    verify,
)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def entries(n: int) -> list[AuditEntry]:
    return chain(
        [
            AuditEntry(
                id=f"aud_{i}",
                at=T0 + timedelta(seconds=i),
                actor="admin-api",
                action="key.revoke",
                target_type="api_key",
                target_id=f"key_{i}",
                org_id="org_a",
                detail={"n": i, "name": "한국"},
            )
            for i in range(1, n + 1)
        ],
        0,
        GENESIS_HASH,
    )


def checkpoint(entry: AuditEntry, at: datetime = T0) -> Checkpoint:
    assert entry.seq is not None and entry.hash is not None
    return Checkpoint(seq=entry.seq, hash=entry.hash, at=at, key_id="k", signature="s")


def test_the_format_is_what_docs_audit_md_says() -> None:
    # An auditor's own tool re-computes the hash from this description alone.
    (first,) = entries(1)
    canonical = (
        '{"action":"key.revoke","actor":"admin-api","at":"2026-12-01T09:00:01.000000Z",'
        '"detail":{"n":1,"name":"\\ud55c\\uad6d"},"id":"aud_1","org_id":"org_a","seq":1,'
        '"target_id":"key_1","target_type":"api_key"}'
    )
    assert canonical_bytes(first, 1) == canonical.encode("ascii")
    assert first.hash == hashlib.sha256((GENESIS_HASH + canonical).encode("ascii")).hexdigest()
    assert (first.seq, first.prev_hash) == (1, GENESIS_HASH)
    assert checkpoint_message(7, "ab" * 32, T0) == (
        b"onshore-audit-checkpoint:v1|7|" + b"ab" * 32 + b"|2026-12-01T09:00:00.000000Z"
    )


def test_times_are_hashed_in_utc_whatever_zone_they_were_given_in() -> None:
    seoul = timezone(timedelta(hours=9))
    assert canonical_at(T0.astimezone(seoul)) == canonical_at(T0) == "2026-12-01T09:00:00.000000Z"
    assert canonical_at(T0.replace(tzinfo=None)) == canonical_at(T0)  # naive: UTC, as stored


def test_detail_is_normalised_to_what_the_database_gives_back() -> None:
    assert normalise_detail({"a": (1, 2), 3: "x"}) == {"a": [1, 2], "3": "x"}
    for bad in ({"nan": float("nan")}, {"obj": object()}):
        with pytest.raises((ValueError, TypeError)):
            normalise_detail(bad)


def test_chaining_continues_from_a_head() -> None:
    chained = entries(5)
    again = chain([replace(e, seq=None, hash=None) for e in chained[2:]], 2, chained[1].hash or "")
    assert [(e.seq, e.hash) for e in again] == [(e.seq, e.hash) for e in chained[2:]]
    assert all(e.prev_hash == p.hash for p, e in itertools.pairwise(chained))


def test_an_intact_chain_verifies() -> None:
    chained = entries(10)
    verdict = verify(chained, [checkpoint(chained[4]), checkpoint(chained[9])])
    assert verdict.intact and (verdict.entries, verdict.head_seq, verdict.checkpoints) == (10, 10, 2)
    assert verdict.head_hash == chained[-1].hash
    assert verify([]).intact and verify([]).head_hash == GENESIS_HASH


def test_an_edited_entry_is_named() -> None:
    chained = entries(10)
    chained[4] = replace(chained[4], actor="someone-else")
    problem = verify(chained).problem
    assert problem is not None and (problem.seq, problem.entry_id) == (5, "aud_5")
    assert "edited" in problem.reason


def test_an_edit_with_its_own_hash_recomputed_breaks_the_next_link() -> None:
    chained = entries(10)
    edited = replace(chained[4], actor="someone-else")
    chained[4] = replace(edited, hash=link_hash(edited.prev_hash or "", edited, 5))
    problem = verify(chained).problem
    assert problem is not None and problem.seq == 6 and "prev_hash is not the hash of seq 5" in problem.reason


def test_a_deleted_entry_leaves_a_gap() -> None:
    chained = entries(10)
    del chained[4]
    problem = verify(chained).problem
    assert problem is not None and problem.seq == 6 and "seq 5 missing" in problem.reason
    problem = verify(chained[1:]).problem  # the very first one
    assert problem is not None and problem.seq == 2 and "seq 1 missing" in problem.reason
    full = entries(10)
    problem = verify([*full[:3], *full[6:]]).problem
    assert problem is not None and "seqs 4-6 missing" in problem.reason


def test_reordered_entries_break_the_link() -> None:
    chained = entries(10)
    swapped = [*chained[:2], replace(chained[3], seq=3), replace(chained[2], seq=4), *chained[4:]]
    problem = verify(swapped).problem
    assert problem is not None and problem.seq == 3 and "reordered" in problem.reason


def test_an_entry_without_a_seq_is_reported() -> None:
    chained = entries(3)
    stray = replace(chained[0], id="aud_stray", seq=None, prev_hash=None, hash=None)
    problem = verify(chained, unchained=[stray]).problem
    assert problem is not None and problem.entry_id == "aud_stray" and "no seq" in problem.reason


def test_a_cut_tail_and_a_rebuilt_chain_pass_without_a_checkpoint_and_fail_with_one() -> None:
    chained = entries(10)
    kept = checkpoint(chained[7])
    cut = chained[:5]
    # Without a checkpoint a shorter chain is a perfectly valid chain: that is why checkpoints exist.
    assert verify(cut).intact
    problem = verify(cut, [kept]).problem
    assert problem is not None and "cut from its tail" in problem.reason and problem.seq == 6

    rebuilt = chain([replace(e, actor="forger") for e in chained], 0, GENESIS_HASH)
    assert verify(rebuilt).intact
    problem = verify(rebuilt, [kept]).problem
    assert problem is not None and problem.seq == 8 and "rewritten" in problem.reason
    # Entries appended after a checkpoint are not covered by it: a rebuild after seq 8 passes it.
    tail_rebuilt = [*chained[:8], *chain([replace(e, actor="forger") for e in chained[8:]], 8, kept.hash)]
    assert verify(tail_rebuilt, [kept]).intact


def test_a_checkpoint_whose_signature_fails_is_reported_first() -> None:
    chained = entries(3)
    verdict = verify(chained, [checkpoint(chained[1])], check_signature=lambda c: "forged")
    assert verdict.problem is not None and verdict.problem.reason == "checkpoint at seq 2: forged"
    assert verify(chained, [checkpoint(chained[1])], check_signature=lambda c: None).intact


def test_a_segment_verifies_from_its_first_entry() -> None:
    chained = entries(10)
    segment = chained[3:7]
    first = segment[0]
    verdict = verify(
        segment,
        [checkpoint(chained[5]), checkpoint(chained[9])],  # seq 10 lies outside: not judged
        start_seq=(first.seq or 0) - 1,
        start_hash=first.prev_hash or "",
        open_end=True,
    )
    assert verdict.intact and verdict.entries == 4 and verdict.checkpoints == 1


def test_canonical_bytes_are_json_that_round_trips() -> None:
    (first,) = entries(1)
    decoded = json.loads(canonical_bytes(first, 1))
    assert decoded["detail"] == {"n": 1, "name": "한국"} and decoded["seq"] == 1
