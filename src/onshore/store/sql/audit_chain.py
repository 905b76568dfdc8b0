"""Appending to the audit hash chain in SQL: one writer at a time, idempotent, in the caller's
transaction. The format is :mod:`onshore.domain.audit_chain`'s.

Writers queue on the ``change_counters`` row ``audit`` (an UPDATE as the chain's first statement):
on PostgreSQL its row lock, held until commit, orders writers across every replica; SQLite has one
writer anyway. Under the lock the head read next is the newest committed one, so each entry gets
``seq = head + 1 …`` and the previous hash with nobody in between. A rolled-back transaction gives
its numbers back, so seqs have no gaps. The counter's value is kept at the head's seq.

Take the lock last in a transaction that takes other counter rows (``api_keys``, ``limits``):
every writer then locks in the same order, and PostgreSQL never has to break a deadlock.
Audited changes are rare admin actions and policy decisions written in batches by the buffered
sink, so one queue costs nothing that matters.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, Row, func, select, update

from onshore.domain.audit import AuditEntry
from onshore.domain.audit_chain import GENESIS_HASH, Checkpoint, chain, normalise_detail
from onshore.store.setaside import RecordsRefused
from onshore.store.sql.schema import audit_log, change_counters
from onshore.store.sql.sequences import take_next

log = logging.getLogger(__name__)

AUDIT_SEQUENCE = "audit"  # the change_counters row whose lock orders chain writers
_IDS_PER_QUERY = 500  # ids per "already stored?" query: far below every driver's parameter limit
# Entries of an older release adopted per append (see ``append_chained``); the rest by the next ones.
_ADOPT_PER_APPEND = 1000


def normalised(entry: AuditEntry) -> AuditEntry:
    """``entry`` with its detail as the database will give it back, so its hash re-computes.

    Raises:
        RecordsRefused: the detail is not plain JSON; such an entry can never be stored.
    """
    try:
        return replace(entry, detail=normalise_detail(entry.detail))
    except (TypeError, ValueError) as exc:
        raise RecordsRefused("an audit entry's detail is not plain JSON", type(exc).__name__) from exc


def append_chained(conn: Connection, insert: Any, entries: Sequence[AuditEntry]) -> None:
    """Chain and insert ``entries`` (normalised, ids unique) on ``conn``, inside its transaction.

    An id already stored is skipped (a replayed spool, a retried batch), so an entry is never
    chained twice. Entries without a seq, written by a replica of the release before the chain
    while the two ran side by side, are chained first, in the order they were written: without
    that, ``onshore audit verify`` would report them for ever. It also chains a row someone
    inserted by hand; that widens nothing, since whoever can insert rows can as well compute
    valid hashes for them (docs/audit.md, "What verify cannot prove").
    """
    _lock(conn)
    stored = _stored_ids(conn, [entry.id for entry in entries])
    new = [entry for entry in entries if entry.id not in stored]
    t = audit_log.c
    orphans = conn.execute(
        select(audit_log).where(t.seq.is_(None)).order_by(t.at, t.id).limit(_ADOPT_PER_APPEND)
    ).all()
    if not new and not orphans:
        return
    head_seq, head_hash = _head(conn)
    adopted = chain([entry_from_row(row) for row in orphans], head_seq, head_hash)
    for entry in adopted:
        conn.execute(
            update(audit_log)
            .where(t.id == entry.id)
            .values(seq=entry.seq, prev_hash=entry.prev_hash, hash=entry.hash)
        )
    if adopted:
        log.warning(
            "chained %d audit entries written without a seq (first %s): by a replica of an older "
            "release, or inserted by hand",
            len(adopted),
            adopted[0].id,
        )
        head_seq, head_hash = adopted[-1].seq or 0, adopted[-1].hash or GENESIS_HASH
    fresh = chain(new, head_seq, head_hash)
    if fresh:
        conn.execute(insert, [entry_values(entry) for entry in fresh])
        head_seq = fresh[-1].seq or 0
    conn.execute(
        update(change_counters).where(change_counters.c.name == AUDIT_SEQUENCE).values(value=head_seq)
    )


def _lock(conn: Connection) -> None:
    """Take the chain lock (the ``audit`` counter row), seeding the row when it is missing."""
    take_next(conn, AUDIT_SEQUENCE, by=0, seed=_head_seq)


def _head_seq(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(audit_log.c.seq), 0))).scalar_one())


def _head(conn: Connection) -> tuple[int, str]:
    t = audit_log.c
    row = conn.execute(
        select(t.seq, t.hash).where(t.seq.is_not(None)).order_by(t.seq.desc()).limit(1)
    ).first()
    if row is None:
        return 0, GENESIS_HASH
    return int(row.seq), str(row.hash)


def _stored_ids(conn: Connection, ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), _IDS_PER_QUERY):
        chunk = ids[start : start + _IDS_PER_QUERY]
        found.update(conn.execute(select(audit_log.c.id).where(audit_log.c.id.in_(chunk))).scalars())
    return found


def entry_values(entry: AuditEntry) -> dict[str, Any]:
    """The row of a chained entry."""
    return {
        "id": entry.id,
        "at": entry.at,
        "actor": entry.actor,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "org_id": entry.org_id,
        "detail": dict(entry.detail),
        "seq": entry.seq,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


def entry_from_row(row: Row[Any]) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        target_type=row.target_type,
        target_id=row.target_id,
        org_id=row.org_id,
        detail=_detail(row.detail),
        seq=None if row.seq is None else int(row.seq),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def _detail(value: Any) -> dict[str, Any]:
    # Always an object when this release wrote it; anything else was put there by hand and is
    # kept visible (and so fails its hash) rather than crashing whoever reads it.
    if isinstance(value, dict):
        return value
    return {} if value is None else {"value": value}


def checkpoint_values(checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "seq": checkpoint.seq,
        "hash": checkpoint.hash,
        "at": checkpoint.at,
        "key_id": checkpoint.key_id,
        "signature": checkpoint.signature,
    }


def checkpoint_from_row(row: Row[Any]) -> Checkpoint:
    return Checkpoint(seq=int(row.seq), hash=row.hash, at=row.at, key_id=row.key_id, signature=row.signature)


__all__ = [
    "AUDIT_SEQUENCE",
    "append_chained",
    "checkpoint_from_row",
    "checkpoint_values",
    "entry_from_row",
    "entry_values",
    "normalised",
]
