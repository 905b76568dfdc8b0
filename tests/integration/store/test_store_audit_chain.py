"""The audit hash chain on SQLite and PostgreSQL: tamper with the table in every way and
``verify`` names what happened; a cut tail and a rebuilt chain only against a checkpoint.

The tampering is done the way someone with write access to the database would: plain SQL on the
table, behind the gateway's back.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete, func, insert, select, text, update

from onshore.admin.audit_chain import sign_checkpoint, verify_trail
from onshore.bootstrap.audit import signature_check
from onshore.domain.audit import AuditEntry
from onshore.domain.audit_chain import GENESIS_HASH, Checkpoint, Verdict, chain, link_hash
from onshore.store.audit_signing import Ed25519Signer, new_private_key_pem, parse_private_key
from onshore.store.sql import SqlAuditLog, SqlTenancyStore
from onshore.store.sql.audit_chain import entry_from_row, entry_values
from onshore.store.sql.schema import audit_checkpoints, audit_log, change_counters

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
N = 10


def entry(i: int, **overrides: Any) -> AuditEntry:
    values: dict[str, Any] = {
        "id": f"aud_{i:03d}",
        "at": T0 + timedelta(seconds=i, microseconds=123),
        "actor": "admin-api",
        "action": "key.revoke",
        "target_type": "api_key",
        "target_id": f"key_{i}",
        "org_id": "org_a",
        "detail": {"n": i, "name": "한국 파트너", "ratio": 0.1 + i, "tags": ["a", "b"], "none": None},
    }
    values.update(overrides)
    return AuditEntry(**values)


def new_signer() -> Ed25519Signer:
    return Ed25519Signer(parse_private_key(new_private_key_pem()))


@pytest.fixture
def audit(engine: Engine) -> SqlAuditLog:
    log = SqlAuditLog(engine)
    log.append_many([entry(i) for i in range(1, 6)])  # two batches: the chain crosses transactions
    log.append_many([entry(i) for i in range(6, N + 1)])
    return log


def run(engine: Engine, statement: Any, *params: dict[str, Any]) -> None:
    with engine.begin() as conn:
        conn.execute(statement, list(params) if params else None)


def rows(engine: Engine) -> list[AuditEntry]:
    with engine.connect() as conn:
        return [entry_from_row(r) for r in conn.execute(select(audit_log).order_by(audit_log.c.seq))]


def check(
    audit: SqlAuditLog, signer: Ed25519Signer | None = None, kept: list[Checkpoint] | None = None
) -> Verdict:
    trusted = {} if signer is None else {signer.key_id: signer.verifier()}
    return verify_trail(audit, signature_check(trusted) if trusted else None, kept or [])


def problem_of(verdict: Verdict) -> tuple[int | None, str | None, str]:
    assert verdict.problem is not None, "verify did not notice"
    return verdict.problem.seq, verdict.problem.entry_id, verdict.problem.reason


def rebuild(engine: Engine, change: dict[str, Any]) -> None:
    """Rewrite every entry with ``change`` and re-hash the whole chain: valid hashes throughout."""
    forged = chain([replace(e, **change) for e in rows(engine)], 0, GENESIS_HASH)
    with engine.begin() as conn:
        for e in forged:
            values = entry_values(e)
            conn.execute(update(audit_log).where(audit_log.c.id == e.id).values(**values))


# --- the chain as written ------------------------------------------------------------------------


def test_entries_are_chained_in_commit_order_and_read_back_re_hash(
    audit: SqlAuditLog, engine: Engine
) -> None:
    stored = rows(engine)
    assert [e.seq for e in stored] == list(range(1, N + 1))
    assert stored[0].prev_hash == GENESIS_HASH
    assert all(e.prev_hash == p.hash for p, e in itertools.pairwise(stored))
    # Every column as read back (JSON detail, a microsecond timestamp) re-hashes identically.
    assert all(e.hash == link_hash(e.prev_hash or "", e, e.seq or 0) for e in stored)
    verdict = check(audit)
    assert verdict.intact and (verdict.entries, verdict.head_seq) == (N, N)
    with engine.connect() as conn:
        counter = conn.execute(select(change_counters.c.value).where(change_counters.c.name == "audit"))
        assert counter.scalar_one() == N
    assert [e.seq for e in audit.list(limit=3)] == [10, 9, 8]  # list and the admin API carry them


def test_replaying_entries_already_stored_chains_nothing_twice(audit: SqlAuditLog, engine: Engine) -> None:
    audit.append_many([entry(3), entry(7), entry(11), entry(3)])  # a replayed spool, a retried batch
    assert [e.id for e in rows(engine)][-1] == "aud_011" and len(rows(engine)) == N + 1
    assert check(audit).intact


def test_the_chain_lock_row_is_seeded_when_missing(audit: SqlAuditLog, engine: Engine) -> None:
    run(engine, delete(change_counters).where(change_counters.c.name == "audit"))
    audit.append_many([entry(11)])
    assert check(audit).intact and check(audit).head_seq == N + 1


def test_entries_of_an_older_release_are_chained_by_the_next_append(
    audit: SqlAuditLog, engine: Engine
) -> None:
    # A replica of the release before the chain, rolling beside this one: rows without a seq.
    old = [entry(20, at=T0 + timedelta(days=1)), entry(19, at=T0 + timedelta(days=1))]
    run(engine, insert(audit_log), *[{**entry_values(e), "detail": dict(e.detail)} for e in old])
    assert problem_of(check(audit))[1] == "aud_019"  # reported until adopted (oldest first)

    audit.append_many([entry(21, at=T0 + timedelta(days=2))])

    assert [e.id for e in rows(engine)][N:] == ["aud_019", "aud_020", "aud_021"]  # in (at, id) order
    assert check(audit).intact


def test_unit_of_work_entries_join_the_chain(audit: SqlAuditLog, engine: Engine) -> None:
    store = SqlTenancyStore(engine)
    with store.unit_of_work() as uow:
        org = uow.create_org("acme")
        uow.append_audit(entry(50, org_id=org.id, action="org.create"))
    with pytest.raises(RuntimeError), store.unit_of_work() as uow:
        uow.append_audit(entry(51))
        raise RuntimeError("rolled back: its seq is given back")
    audit.append_many([entry(52)])
    assert [(e.id, e.seq) for e in rows(engine)][N:] == [("aud_050", 11), ("aud_052", 12)]
    assert check(audit).intact


# --- tampering inside the chain: the chain alone shows it -------------------------------------------


def test_an_edited_field_is_caught(audit: SqlAuditLog, engine: Engine) -> None:
    run(engine, update(audit_log).where(audit_log.c.seq == 4).values(actor="cli:mallory"))
    assert problem_of(check(audit))[:2] == (4, "aud_004")
    assert "edited" in problem_of(check(audit))[2]


@pytest.mark.parametrize(
    "change",
    [
        {"detail": {"n": 4}},
        {"at": T0 + timedelta(seconds=4)},  # the microseconds dropped
        {"org_id": None},
        {"target_id": "key_other"},
    ],
)
def test_every_column_is_covered(audit: SqlAuditLog, engine: Engine, change: dict[str, Any]) -> None:
    run(engine, update(audit_log).where(audit_log.c.seq == 4).values(**change))
    assert problem_of(check(audit))[0] == 4


def test_an_edit_with_its_hash_recomputed_is_caught_at_the_next_entry(
    audit: SqlAuditLog, engine: Engine
) -> None:
    (fourth,) = [e for e in rows(engine) if e.seq == 4]
    forged = replace(fourth, actor="cli:mallory")
    forged_hash = link_hash(forged.prev_hash or "", forged, 4)
    run(engine, update(audit_log).where(audit_log.c.seq == 4).values(actor="cli:mallory", hash=forged_hash))
    seq, entry_id, reason = problem_of(check(audit))
    assert (seq, entry_id) == (5, "aud_005") and "not the hash of seq 4" in reason


def test_an_inserted_row_without_a_seq_is_caught(audit: SqlAuditLog, engine: Engine) -> None:
    run(engine, insert(audit_log), {**entry_values(entry(99, at=T0 + timedelta(seconds=3))), "seq": None})
    seq, entry_id, reason = problem_of(check(audit))
    assert (seq, entry_id) == (None, "aud_099") and "no seq" in reason


def test_an_inserted_row_with_a_forged_seq_and_hash_is_caught(audit: SqlAuditLog, engine: Engine) -> None:
    forged = {**entry_values(entry(99)), "seq": N + 1, "prev_hash": rows(engine)[-1].hash, "hash": "f" * 64}
    run(engine, insert(audit_log), forged)
    assert problem_of(check(audit))[:2] == (N + 1, "aud_099")


def test_a_row_inserted_into_the_middle_is_caught(audit: SqlAuditLog, engine: Engine) -> None:
    # Make room at seq 5 (shifting the later ones, in two steps: seq is unique), then insert a
    # correctly hashed entry after seq 4. The shifted entries no longer match their hashes.
    run(engine, update(audit_log).where(audit_log.c.seq >= 5).values(seq=-audit_log.c.seq - 1))
    run(engine, update(audit_log).where(audit_log.c.seq < 0).values(seq=-audit_log.c.seq))
    fourth = rows(engine)[3]
    planted = chain([entry(99, at=T0 + timedelta(seconds=4, microseconds=500))], 4, fourth.hash or "")[0]
    run(engine, insert(audit_log), entry_values(planted))
    seq, entry_id, reason = problem_of(check(audit))
    assert (seq, entry_id) == (6, "aud_005") and "not the hash of seq 5" in reason


def test_a_deleted_row_is_caught(audit: SqlAuditLog, engine: Engine) -> None:
    run(engine, delete(audit_log).where(audit_log.c.seq == 5))
    seq, entry_id, reason = problem_of(check(audit))
    assert (seq, entry_id) == (6, "aud_006") and "seq 5 missing" in reason


def test_reordered_rows_are_caught(audit: SqlAuditLog, engine: Engine) -> None:
    # Swap seq 3 and 4 (through a free number: seq is unique).
    t = audit_log.c
    run(engine, update(audit_log).where(t.seq == 3).values(seq=-1))
    run(engine, update(audit_log).where(t.seq == 4).values(seq=3))
    run(engine, update(audit_log).where(t.seq == -1).values(seq=4))
    seq, entry_id, reason = problem_of(check(audit))
    assert (seq, entry_id) == (3, "aud_004") and "reordered" in reason


# --- what needs a checkpoint ------------------------------------------------------------------------


def test_a_cut_tail_is_caught_only_against_a_checkpoint(audit: SqlAuditLog, engine: Engine) -> None:
    signer = new_signer()
    kept = sign_checkpoint(audit, signer, T0 + timedelta(hours=1))  # at seq 10, also stored

    run(engine, delete(audit_log).where(audit_log.c.seq > 7))

    # The stored checkpoint notices ...
    seq, _, reason = problem_of(check(audit, signer))
    assert seq == 8 and "cut from its tail" in reason
    # ... so whoever cut the tail deletes it too. The chain alone is now a valid, shorter chain:
    run(engine, delete(audit_checkpoints))
    assert check(audit, signer).intact and check(audit, signer).head_seq == 7
    # which is why an auditor keeps checkpoints where the database's writers cannot reach.
    assert "cut from its tail" in problem_of(check(audit, signer, [kept]))[2]
    # Appending after the cut does not hide it: seq 10 then has another hash.
    audit.append_many([entry(i) for i in range(31, 35)])
    seq, _, reason = problem_of(check(audit, signer, [kept]))
    assert seq == 10 and "rewritten" in reason


def test_everything_deleted_is_caught_only_against_a_checkpoint(audit: SqlAuditLog, engine: Engine) -> None:
    signer = new_signer()
    kept = sign_checkpoint(audit, signer, T0)
    run(engine, delete(audit_checkpoints))
    run(engine, delete(audit_log))
    assert check(audit, signer).intact and check(audit, signer).entries == 0
    assert "cut from its tail" in problem_of(check(audit, signer, [kept]))[2]


def test_a_rebuilt_chain_is_caught_only_against_a_checkpoint(audit: SqlAuditLog, engine: Engine) -> None:
    signer = new_signer()
    kept = sign_checkpoint(audit, signer, T0)

    rebuild(engine, {"actor": "cli:mallory"})  # every hash valid again

    assert "rewritten" in problem_of(check(audit, signer))[2]  # the stored checkpoint
    run(engine, delete(audit_checkpoints))
    assert check(audit, signer).intact  # a chain with valid hashes throughout
    seq, entry_id, reason = problem_of(check(audit, signer, [kept]))
    assert (seq, entry_id) == (N, f"aud_{N:03d}") and "rewritten" in reason


def test_a_checkpoint_forged_for_a_rebuilt_chain_is_caught(audit: SqlAuditLog, engine: Engine) -> None:
    signer = new_signer()
    sign_checkpoint(audit, signer, T0)
    rebuild(engine, {"actor": "cli:mallory"})
    run(engine, delete(audit_checkpoints))
    # The forger signs the rebuilt head with a key of their own ...
    sign_checkpoint(audit, new_signer(), T0)
    assert "not trusted" in problem_of(check(audit, signer))[2]
    # ... or claims the real key's id with a signature that cannot be valid.
    run(engine, update(audit_checkpoints).values(key_id=signer.key_id))
    assert "not valid" in problem_of(check(audit, signer))[2]


def test_checkpoints_are_stored_once_per_seq(audit: SqlAuditLog) -> None:
    signer = new_signer()
    first = sign_checkpoint(audit, signer, T0)
    second = sign_checkpoint(audit, signer, T0 + timedelta(minutes=1))
    assert (first.seq, second.seq) == (N, N)
    assert [(c.seq, c.at) for c in audit.checkpoints()] == [(N, T0)]
    verdict = check(audit, signer, [second])
    assert verdict.intact and verdict.checkpoints == 2


# --- many writers ----------------------------------------------------------------------------------


def test_concurrent_appenders_make_one_valid_chain(engine: Engine) -> None:
    # Threads on one pool: on PostgreSQL they queue on the counter row's lock, on SQLite on its one
    # write lock. Each appends small batches, some through the unit of work with a change.
    log = SqlAuditLog(engine)
    tenancy = SqlTenancyStore(engine)
    threads, batches, per_batch = 6, 8, 3
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for b in range(batches):
                batch = [entry(1000 * t + 10 * b + i) for i in range(per_batch)]
                if b % 2:
                    log.append_many(batch)
                else:
                    with tenancy.unit_of_work() as uow:
                        uow.create_org(f"org-{t}-{b}")
                        uow.append_audit(*batch)
        except BaseException as exc:  # surfaced below, with the thread's own traceback
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    verdict = check(log)
    assert verdict.intact and verdict.entries == threads * batches * per_batch
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(audit_log)).scalar_one() == verdict.entries


@pytest.mark.postgres
def test_postgres_writers_wait_for_the_chain_lock(postgres_url: str) -> None:
    # A transaction holding the lock (as a unit of work does until it commits) makes the next
    # writer wait, instead of both taking the same seq.
    from onshore.store.sql.engine import make_engine

    engine = make_engine(postgres_url, pool_size=3)
    try:
        log = SqlAuditLog(engine)
        log.append_many([entry(1)])
        done = threading.Event()
        with engine.begin() as holder:
            holder.execute(text("UPDATE change_counters SET value = value WHERE name = 'audit'"))
            writer = threading.Thread(target=lambda: (log.append_many([entry(2)]), done.set()))
            writer.start()
            assert not done.wait(0.5)  # blocked on the row lock
        writer.join(10)
        assert done.is_set() and check(log).intact and check(log).head_seq == 2
    finally:
        engine.dispose()
