"""The audit trail on SQLite and PostgreSQL: append-only, idempotent, and one unit of work with the
change it describes."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from onshore.domain.audit import AuditEntry
from onshore.domain.tenancy import ApiKey
from onshore.ports import AlreadyExists, StoreError
from onshore.store.buffered import BufferedAuditSink
from onshore.store.sql import SqlAuditLog, SqlTenancyStore
from onshore.store.sql.schema import audit_log

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


def entry(entry_id: str, at: datetime = T0, **overrides: object) -> AuditEntry:
    values: dict[str, object] = {
        "id": entry_id,
        "at": at,
        "actor": "admin-api",
        "action": "key.revoke",
        "target_type": "api_key",
        "target_id": "key_1",
        "org_id": "org_a",
        "detail": {"reason": "leaked", "n": 3},
    }
    values.update(overrides)
    return AuditEntry(**values)  # type: ignore[arg-type]


def make_key(org_id: str, key_id: str) -> ApiKey:
    return ApiKey(
        id=key_id,
        org_id=org_id,
        name=key_id,
        digest=f"digest-{key_id}",
        prefix="sk-onshore-ab",
        created_at=T0,
    )


def audit_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_log)).scalar_one())


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


@pytest.fixture
def audit(engine: Engine) -> SqlAuditLog:
    return SqlAuditLog(engine)


def test_entries_round_trip_and_appending_twice_keeps_one(audit: SqlAuditLog, engine: Engine) -> None:
    first = entry("aud_1")
    second = entry("aud_2", T0 + timedelta(seconds=1), org_id=None, target_id=None, detail={})
    audit.append_many([first, second])
    audit.append_many([first, second, first])  # a retried batch, a replayed spool

    assert audit_rows(engine) == 2
    assert audit.list() == [second, first]  # newest first
    stored = audit.list(org_id="org_a")
    assert stored == [first] and stored[0].at.tzinfo is not None
    assert audit.entries(limit=1) == [second]


def test_list_filters(audit: SqlAuditLog) -> None:
    audit.append_many(
        [
            entry("a", T0, action="key.create"),
            entry("b", T0 + timedelta(minutes=1)),
            entry(
                "c",
                T0 + timedelta(minutes=2),
                action="org.create",
                target_type="organisation",
                target_id="org_b",
                org_id="org_b",
            ),
        ]
    )
    assert [e.id for e in audit.list(action="key.revoke")] == ["b"]
    assert [e.id for e in audit.list(target_type="organisation")] == ["c"]
    assert [e.id for e in audit.list(target_id="key_1")] == ["b", "a"]
    assert [e.id for e in audit.list(since=T0 + timedelta(minutes=1))] == ["c", "b"]
    assert [e.id for e in audit.list(until=T0 + timedelta(minutes=1))] == ["a"]
    assert [e.id for e in audit.list(limit=2)] == ["c", "b"]


def test_create_gives_unique_unguessable_ids() -> None:
    ids = {
        AuditEntry.create(actor="cli", action="org.create", target_type="organisation").id for _ in range(100)
    }
    assert len(ids) == 100 and all(i.startswith("aud_") and len(i) == 28 for i in ids)


def test_revocation_and_its_entry_commit_together(engine: Engine, audit: SqlAuditLog) -> None:
    store = SqlTenancyStore(engine)
    org = store.create_org("acme")
    store.add_key(make_key(org.id, "key_1"))

    revoked = store.revoke_key("key_1", T0, audit=entry("aud_revoke", org_id=org.id))

    assert revoked is not None and revoked.revoked_at == T0
    assert [e.id for e in audit.list()] == ["aud_revoke"]
    # No key, no change, no entry.
    assert store.revoke_key("missing", T0, audit=entry("aud_missing")) is None
    assert [e.id for e in audit.list()] == ["aud_revoke"]


def test_a_failing_audit_insert_rolls_the_revocation_back(engine: Engine, audit: SqlAuditLog) -> None:
    store = SqlTenancyStore(engine)
    org = store.create_org("acme")
    store.add_key(make_key(org.id, "key_1"))
    _, seq_before = store.keys_changed_since_seq(None)
    unstorable = entry("aud_bad", detail={"not json": object()})

    with pytest.raises(StoreError):
        store.revoke_key("key_1", T0, audit=unstorable)

    key = store.get_key("key_1")
    assert key is not None and key.revoked_at is None  # the revocation did not happen either
    assert audit.list() == []
    assert store.keys_changed_since_seq(seq_before) == ([], seq_before)


def test_unit_of_work_commits_all_or_nothing(engine: Engine, audit: SqlAuditLog) -> None:
    store = SqlTenancyStore(engine)

    with store.unit_of_work() as uow:
        org = uow.create_org("beta")
        uow.add_key(make_key(org.id, "key_b"))
        uow.append_audit(entry("aud_org", target_type="organisation", target_id=org.id, org_id=org.id))

    with pytest.raises(RuntimeError), store.unit_of_work() as uow:
        uow.create_org("gamma")
        uow.append_audit(entry("aud_gamma"))
        raise RuntimeError("the caller changed its mind")

    assert [o.name for o in store.list_orgs()] == ["beta"]
    assert [k.id for k in store.list_keys()] == ["key_b"]
    assert [e.id for e in audit.list()] == ["aud_org"]

    with pytest.raises(AlreadyExists), store.unit_of_work() as uow:
        uow.append_audit(entry("aud_dup"))
        uow.create_org("beta")
    assert [e.id for e in audit.list()] == ["aud_org"]


def test_add_key_with_audit(engine: Engine, audit: SqlAuditLog) -> None:
    store = SqlTenancyStore(engine)
    org = store.create_org("acme")
    store.add_key(make_key(org.id, "key_1"), audit=entry("aud_create", action="key.create"))
    with pytest.raises(AlreadyExists):
        store.add_key(make_key(org.id, "key_1"), audit=entry("aud_create_again", action="key.create"))
    assert [e.id for e in audit.list()] == ["aud_create"]


def test_buffered_audit_sink_writes_through_the_no_loss_machinery(
    engine: Engine, audit: SqlAuditLog, tmp_path: Path
) -> None:
    sink = BufferedAuditSink(audit, spool_path=tmp_path / "audit-spool.jsonl", flush_interval_s=0.01)
    sink.start()
    for i in range(30):
        sink.append(entry(f"aud_{i:02d}", T0 + timedelta(seconds=i)))
    wait_until(lambda: sink.written == 30)
    sink.close()
    assert audit_rows(engine) == 30
    assert audit.list(limit=1)[0].id == "aud_29"
