"""The audit trail's hash chain and its signed checkpoints, as pure functions (format v1).

Every stored entry has a number ``seq`` (1, 2, 3 … in the order the entries committed), the hash
of the entry before it (``prev_hash``; :data:`GENESIS_HASH` for seq 1) and its own hash::

    hash = sha256(prev_hash (64 ASCII hex digits) || canonical_bytes(entry, seq)).hexdigest()

``canonical_bytes`` is one JSON object of every column (id, seq, at, actor, action, target_type,
target_id, org_id, detail): keys sorted, no spaces, ASCII only, ``at`` in UTC with microseconds
(``2026-12-01T09:00:00.000000Z``). What SQLite and PostgreSQL give back re-hashes to the same
bytes: the detail is stored exactly as it was hashed (:func:`normalise_detail`), and both keep
timestamps to the microsecond. docs/audit.md describes the format for auditors' own tools.

A chain alone shows that nothing *inside* it was edited, inserted, deleted or reordered. It cannot
show that its newest entries were cut off, or that someone with write access rebuilt the whole
chain with valid hashes: both leave a valid chain. A checkpoint is the answer: (seq, hash, at)
signed with the gateway's Ed25519 key, whose private half never enters the database, and kept by
an auditor elsewhere. The signature itself is checked by the caller (this module does no
cryptography); :func:`verify` takes that check as a function.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from onshore.domain.audit import AuditEntry

GENESIS_HASH = "0" * 64  # the prev_hash of seq 1
CHECKPOINT_FORMAT = "onshore-audit-checkpoint:v1"

__all__ = [
    "CHECKPOINT_FORMAT",
    "GENESIS_HASH",
    "Checkpoint",
    "Problem",
    "SignatureCheck",
    "Verdict",
    "canonical_at",
    "canonical_bytes",
    "chain",
    "checkpoint_message",
    "link_hash",
    "normalise_detail",
    "verify",
]


def canonical_at(at: datetime) -> str:
    """``at`` in UTC with microseconds and a ``Z``; a naive value is taken to be UTC (as stored)."""
    utc = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def normalise_detail(detail: Mapping[str, Any]) -> dict[str, Any]:
    """``detail`` as the database will give it back: keys as strings, tuples as lists.

    Raises:
        ValueError, TypeError: the detail is not plain JSON (an object, NaN or infinity).
    """
    normal = json.loads(json.dumps(dict(detail), allow_nan=False))
    if not isinstance(normal, dict):  # pragma: no cover - dict() above makes it an object
        raise TypeError("an audit entry's detail must be a JSON object")
    return normal


def canonical_bytes(entry: AuditEntry, seq: int) -> bytes:
    """The bytes an entry's hash covers: every column, in one fixed JSON encoding."""
    values = {
        "id": entry.id,
        "seq": seq,
        "at": canonical_at(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "org_id": entry.org_id,
        "detail": entry.detail,
    }
    return json.dumps(
        values, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def link_hash(prev_hash: str, entry: AuditEntry, seq: int) -> str:
    """The hash entry ``seq`` must carry when the entry before it has ``prev_hash``."""
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_bytes(entry, seq)).hexdigest()


def chain(entries: Iterable[AuditEntry], head_seq: int, head_hash: str) -> list[AuditEntry]:
    """``entries`` numbered and hashed after the head (``head_seq`` 0 and :data:`GENESIS_HASH`
    for an empty chain). Their detail must already be normalised (:func:`normalise_detail`)."""
    chained = []
    seq, prev = head_seq, head_hash
    for entry in entries:
        seq += 1
        digest = link_hash(prev, entry, seq)
        chained.append(replace(entry, seq=seq, prev_hash=prev, hash=digest))
        prev = digest
    return chained


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The chain's head at one moment, signed: what an auditor keeps outside the database.

    ``signature`` is the hex Ed25519 signature of :func:`checkpoint_message` by the key whose
    fingerprint is ``key_id``. ``public_key`` (hex) travels in exported checkpoints for
    convenience; a verifier never trusts it, only keys it was given.
    """

    seq: int
    hash: str
    at: datetime
    key_id: str
    signature: str
    public_key: str | None = None

    @property
    def message(self) -> bytes:
        return checkpoint_message(self.seq, self.hash, self.at)


def checkpoint_message(seq: int, head_hash: str, at: datetime) -> bytes:
    """What a checkpoint's signature covers: ``onshore-audit-checkpoint:v1|seq|hash|at``."""
    return f"{CHECKPOINT_FORMAT}|{seq}|{head_hash}|{canonical_at(at)}".encode("ascii")


# A checkpoint's signature check: None when it is valid and by a trusted key, else why not.
SignatureCheck = Callable[[Checkpoint], str | None]


@dataclass(frozen=True, slots=True)
class Problem:
    """The first thing found wrong: which entry (or checkpoint) and why, for an operator to read."""

    reason: str
    seq: int | None = None
    entry_id: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    entries: int  # entries walked
    head_seq: int
    head_hash: str
    checkpoints: int  # checkpoints checked against the chain
    problem: Problem | None = None

    @property
    def intact(self) -> bool:
        return self.problem is None


def verify(
    entries: Iterable[AuditEntry],
    checkpoints: Iterable[Checkpoint] = (),
    *,
    check_signature: SignatureCheck | None = None,
    unchained: Iterable[AuditEntry] = (),
    start_seq: int = 0,
    start_hash: str = GENESIS_HASH,
    open_end: bool = False,
) -> Verdict:
    """Walk ``entries`` (in seq order, streamed) and stop at the first problem.

    Checks, in this order: every checkpoint's signature (when ``check_signature`` is given); then
    per entry that seqs run on without a gap, that ``prev_hash`` is the previous entry's hash, that
    the hash recomputes from the entry, and that every checkpoint at that seq has that hash; then
    that no checkpoint lies beyond the chain's end (a cut tail); then ``unchained`` (entries
    without a seq: inserted outside the chain) must be empty.

    ``start_seq``/``start_hash`` verify a segment (a monthly export): the entry before the first;
    with ``open_end`` the segment is not the whole chain, so checkpoints past it are no problem.
    """
    by_seq: dict[int, list[Checkpoint]] = {}
    for checkpoint in checkpoints:
        reason = None if check_signature is None else check_signature(checkpoint)
        if reason is not None:
            return Verdict(
                0, start_seq, start_hash, 0, Problem(f"checkpoint at seq {checkpoint.seq}: {reason}")
            )
        by_seq.setdefault(checkpoint.seq, []).append(checkpoint)
    seq, head, walked, matched = start_seq, start_hash, 0, 0
    for entry in entries:
        problem = _check_link(entry, seq, head)
        if problem is None:
            problem = _check_checkpoints(entry, by_seq.get(seq + 1, ()))
        if problem is not None:
            return Verdict(walked, seq, head, matched, problem)
        matched += len(by_seq.get(seq + 1, ()))
        seq, head, walked = seq + 1, entry.hash or "", walked + 1
    beyond = [] if open_end else sorted(s for s in by_seq if s > seq)
    if beyond:
        cut = by_seq[beyond[-1]][0]
        problem = Problem(
            f"a checkpoint signed at {canonical_at(cut.at)} covers seq {cut.seq}, but the chain ends at "
            f"seq {seq}: entries were cut from its tail",
            seq=seq + 1,
        )
        return Verdict(walked, seq, head, matched, problem)
    for entry in unchained:
        problem = Problem(
            "it has no seq: it was inserted outside the chain (or by a replica of a release before the "
            "chain, and no entry has been appended since)",
            entry_id=entry.id,
        )
        return Verdict(walked, seq, head, matched, problem)
    return Verdict(walked, seq, head, matched)


def _check_link(entry: AuditEntry, seq: int, head: str) -> Problem | None:
    expected = seq + 1
    if entry.seq != expected:
        if entry.seq is not None and entry.seq > expected:
            missing = f"seq {expected}" if entry.seq == expected + 1 else f"seqs {expected}-{entry.seq - 1}"
            why = f"{missing} missing before it: entries were deleted"
        else:
            why = f"seq {entry.seq} where {expected} was expected"
        return Problem(why, entry.seq, entry.id)
    if entry.prev_hash != head:
        which = "the genesis value" if seq == 0 else f"the hash of seq {seq}"
        return Problem(
            f"its prev_hash is not {which}: entries were reordered, or the one before it was replaced",
            entry.seq,
            entry.id,
        )
    if entry.hash != link_hash(head, entry, expected):
        return Problem("its hash does not match its content: the entry was edited", entry.seq, entry.id)
    return None


def _check_checkpoints(entry: AuditEntry, checkpoints: Iterable[Checkpoint]) -> Problem | None:
    for checkpoint in checkpoints:
        if checkpoint.hash != entry.hash:
            return Problem(
                f"the checkpoint signed at {canonical_at(checkpoint.at)} says seq {checkpoint.seq} has hash "
                f"{checkpoint.hash[:16]}…: the chain was rewritten up to here",
                entry.seq,
                entry.id,
            )
    return None
