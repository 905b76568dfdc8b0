"""The ``PolicyStore`` contract, run against the SQL store on SQLite and PostgreSQL.

What residency and the personal-data step rely on: a change and its audit entry commit together or
not at all, every change moves the limits change number (so every replica reloads the snapshot, which
carries the policies) and a change that changes nothing does not; what the admin operations rely on:
the merge happens in the writing transaction, so concurrent changes to different fields both survive,
and a refused change writes nothing.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select

from onshore.domain.audit import AuditEntry
from onshore.domain.limits import Scope
from onshore.domain.policy import NO_POLICY, PiiMode, SubjectPolicy
from onshore.errors import InvalidRequest
from onshore.pii import EntityType
from onshore.ports import PolicyStore
from onshore.store.sql.limits import SqlLimitsStore
from onshore.store.sql.policies import SqlPolicyStore
from onshore.store.sql.schema import audit_log

T0 = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture
def store(engine: Engine) -> SqlPolicyStore:
    return SqlPolicyStore(engine, clock=lambda: T0)


def _audit(_old: SubjectPolicy, _new: SubjectPolicy) -> AuditEntry:
    return AuditEntry.create(actor="test", action="policy.set", target_type="organisation", at=T0)


def _audit_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_log)).scalar_one())


def test_is_the_port(store: SqlPolicyStore) -> None:
    port: PolicyStore = store
    assert port.get_policy(Scope.ORG, "org_x") == NO_POLICY


def test_a_change_is_stored_audited_and_moves_the_version(store: SqlPolicyStore, engine: Engine) -> None:
    limits = SqlLimitsStore(engine)
    before = limits.limits_version()
    update = store.update_policy(
        Scope.ORG,
        "org_a",
        {"jurisdictions": ("JP", "KR"), "pii_mode": PiiMode.REDACT, "pii_types": (EntityType.KR_RRN,)},
        _audit,
    )
    assert update.changed and update.before == NO_POLICY
    stored = store.get_policy(Scope.ORG, "org_a")
    assert stored == SubjectPolicy(("JP", "KR"), PiiMode.REDACT, (EntityType.KR_RRN,))
    assert limits.limits_version() == before + 1 and _audit_count(engine) == 1
    snapshot = limits.limits_snapshot()
    assert snapshot.org_policies == {"org_a": stored} and snapshot.key_policies == {}


def test_no_change_writes_nothing(store: SqlPolicyStore, engine: Engine) -> None:
    store.update_policy(Scope.KEY, "key_a", {"pii_mode": PiiMode.BLOCK}, _audit)
    version = SqlLimitsStore(engine).limits_version()
    update = store.update_policy(Scope.KEY, "key_a", {"pii_mode": PiiMode.BLOCK}, _audit)
    assert not update.changed
    assert SqlLimitsStore(engine).limits_version() == version and _audit_count(engine) == 1


def test_clearing_every_field_deletes_the_row(store: SqlPolicyStore, engine: Engine) -> None:
    store.update_policy(Scope.ORG, "org_a", {"jurisdictions": ("KR",)}, _audit)
    store.update_policy(Scope.ORG, "org_a", {"jurisdictions": None}, _audit)
    assert store.get_policy(Scope.ORG, "org_a") == NO_POLICY
    assert SqlLimitsStore(engine).limits_snapshot().org_policies == {}


def test_a_refused_change_writes_nothing_and_sees_the_organisation(
    store: SqlPolicyStore, engine: Engine
) -> None:
    store.update_policy(Scope.ORG, "org_a", {"jurisdictions": ("KR",)}, _audit)
    seen: list[SubjectPolicy] = []

    def check(org: SubjectPolicy, merged: SubjectPolicy) -> None:
        seen.append(org)
        raise InvalidRequest("wider than its organisation")

    with pytest.raises(InvalidRequest):
        store.update_policy(
            Scope.KEY, "key_a", {"jurisdictions": ("JP",)}, _audit, bound_by="org_a", check=check
        )
    assert seen == [SubjectPolicy(jurisdictions=("KR",))]
    assert store.get_policy(Scope.KEY, "key_a") == NO_POLICY and _audit_count(engine) == 1


def test_concurrent_changes_of_different_fields_all_survive(store: SqlPolicyStore) -> None:
    changes = [
        {"jurisdictions": ("KR",)},
        {"pii_mode": PiiMode.REDACT},
        {"pii_restore": True},
        {"pii_redact_output": True},
    ]
    barrier = threading.Barrier(len(changes))

    def write(change: dict[str, object]) -> None:
        barrier.wait()
        store.update_policy(Scope.ORG, "org_a", change, _audit)

    threads = [threading.Thread(target=write, args=(c,)) for c in changes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert store.get_policy(Scope.ORG, "org_a") == SubjectPolicy(("KR",), PiiMode.REDACT, None, True, True)
