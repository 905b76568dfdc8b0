"""Audit operations over the ``AuditTrail`` port: verify the chain, sign checkpoints, export a month.

Shared by ``onshore audit`` and the gateway's periodic checkpoint. Signing and signature checks
come in as a port (``CheckpointSigner``) and a function (``SignatureCheck``), so nothing here
knows the cryptography library or where the key lives.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from onshore.admin.usage import month_bounds
from onshore.domain.audit import AuditEntry
from onshore.domain.audit_chain import (
    CHECKPOINT_FORMAT,
    Checkpoint,
    SignatureCheck,
    Verdict,
    canonical_at,
    checkpoint_message,
    verify,
)
from onshore.errors import InvalidRequest
from onshore.ports import AuditTrail, CheckpointSigner

__all__ = [
    "checkpoint_from_json",
    "checkpoint_json",
    "entry_json",
    "export_month",
    "read_checkpoints",
    "sign_checkpoint",
    "verdict_json",
    "verify_export",
    "verify_trail",
]


def sign_checkpoint(trail: AuditTrail, signer: CheckpointSigner, now: datetime) -> Checkpoint:
    """Sign the chain's head and store the checkpoint (one already stored for that seq is kept).

    Raises:
        InvalidRequest: the chain is empty; there is nothing to sign.
    """
    head = trail.head()
    if head is None or head.seq is None or head.hash is None:
        raise InvalidRequest("the audit chain is empty: nothing to sign yet")
    checkpoint = Checkpoint(
        seq=head.seq,
        hash=head.hash,
        at=now,
        key_id=signer.key_id,
        signature=signer.sign(checkpoint_message(head.seq, head.hash, now)),
        public_key=signer.public_key,
    )
    trail.add_checkpoint(checkpoint)
    return checkpoint


def verify_trail(
    trail: AuditTrail, check_signature: SignatureCheck | None, kept: Sequence[Checkpoint] = ()
) -> Verdict:
    """Walk the whole chain against the stored checkpoints and ``kept`` (an auditor's copies).

    Streams the chain, so memory stays flat for millions of entries. ``check_signature`` None
    (no trusted public key at all) still matches stored checkpoints to the chain, unsigned.
    """
    return verify(
        trail.walk(),
        [*trail.checkpoints(), *kept],
        check_signature=check_signature,
        unchained=trail.unchained(limit=1),
    )


def export_month(trail: AuditTrail, month: str) -> Iterator[AuditEntry]:
    """Every entry of a UTC month (``YYYY-MM``), in seq order.

    Raises:
        InvalidRequest: ``month`` is not YYYY-MM.
    """
    start, end = month_bounds(month)
    return trail.walk(since=start, until=end)


def verify_export(
    lines: Iterable[str], check_signature: SignatureCheck | None, kept: Sequence[Checkpoint] = ()
) -> Verdict:
    """Verify an export (``export_month``'s lines) offline, without the database.

    An export is a segment of the chain: its first entry's ``prev_hash`` is taken as given, and
    checkpoints outside the segment are not judged.

    Raises:
        InvalidRequest: a line is not an exported entry.
    """
    entries = _read_export(lines)
    first = next(entries, None)
    if first is None:
        return verify((), (), check_signature=check_signature, open_end=True)
    return verify(
        itertools.chain([first], entries),
        kept,
        check_signature=check_signature,
        start_seq=(first.seq or 1) - 1,
        start_hash=first.prev_hash or "",
        open_end=True,
    )


def _read_export(lines: Iterable[str]) -> Iterator[AuditEntry]:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
            yield AuditEntry(
                id=str(value["id"]),
                at=datetime.fromisoformat(value["at"]),
                actor=value["actor"],
                action=value["action"],
                target_type=value["target_type"],
                target_id=value["target_id"],
                org_id=value["org_id"],
                detail=value["detail"],
                seq=value["seq"],
                prev_hash=value["prev_hash"],
                hash=value["hash"],
            )
        except (KeyError, TypeError, ValueError):
            raise InvalidRequest(f"line {number} is not an exported audit entry") from None


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    """One entry as an auditor re-verifies it: every hashed column, the chain fields, ``at`` exact."""
    return {
        "seq": entry.seq,
        "id": entry.id,
        "at": canonical_at(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "org_id": entry.org_id,
        "detail": dict(entry.detail),
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


def checkpoint_json(checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "object": "audit.checkpoint",
        "format": CHECKPOINT_FORMAT,
        "seq": checkpoint.seq,
        "hash": checkpoint.hash,
        "at": canonical_at(checkpoint.at),
        "key_id": checkpoint.key_id,
        "public_key": checkpoint.public_key,
        "signature": checkpoint.signature,
    }


def checkpoint_from_json(value: Any, where: str = "a checkpoint") -> Checkpoint:
    """Raises InvalidRequest naming ``where`` when ``value`` is not a checkpoint object."""
    try:
        if value.get("format", CHECKPOINT_FORMAT) != CHECKPOINT_FORMAT:
            raise ValueError(value.get("format"))
        public_key = value.get("public_key")
        return Checkpoint(
            seq=int(value["seq"]),
            hash=str(value["hash"]),
            at=datetime.fromisoformat(str(value["at"]).replace("Z", "+00:00")),
            key_id=str(value["key_id"]),
            signature=str(value["signature"]),
            public_key=None if public_key is None else str(public_key),
        )
    except (AttributeError, KeyError, TypeError, ValueError):
        raise InvalidRequest(f"{where} is not an onshore audit checkpoint ({CHECKPOINT_FORMAT})") from None


def read_checkpoints(text: str, where: str) -> list[Checkpoint]:
    """The checkpoints in a file: one JSON object (what ``audit checkpoint --out`` writes), a JSON
    array of them, or one per line (an auditor's collection appended to over time)."""
    try:
        whole = json.loads(text)
    except ValueError:
        try:
            values = [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError:
            raise InvalidRequest(f"{where} is not JSON") from None
    else:
        values = whole if isinstance(whole, list) else [whole]
    return [checkpoint_from_json(value, where) for value in values]


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    problem = verdict.problem
    return {
        "object": "audit.verification",
        "intact": verdict.intact,
        "entries": verdict.entries,
        "head": {"seq": verdict.head_seq, "hash": verdict.head_hash},
        "checkpoints_matched": verdict.checkpoints,
        "problem": None
        if problem is None
        else {"seq": problem.seq, "id": problem.entry_id, "reason": problem.reason},
    }
