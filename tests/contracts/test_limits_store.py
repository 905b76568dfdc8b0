"""The ``LimitsStore`` contract, run against the SQL store on SQLite and PostgreSQL.

What the admission step relies on: a change and its audit entry commit together or not at all, every
change moves ``limits_version`` (and a change that changes nothing does not), and the snapshot is
never older than the version it reports. What the admin operations rely on: the merge happens in the
writing transaction, so concurrent changes to different fields of one subject all survive.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select

from onshore.domain.audit import AuditEntry
from onshore.domain.limits import LIMIT_FIELDS, NO_LIMITS, Limits, Price, Scope, Tier
from onshore.ports import LimitsStore, LimitsUpdate, StoreError
from onshore.store.sql.limits import SqlLimitsStore
from onshore.store.sql.schema import audit_log, change_counters

T0 = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture
def store(engine: Engine) -> SqlLimitsStore:
    return SqlLimitsStore(engine, clock=lambda: T0)


def _audit(action: str = "limits.set") -> AuditEntry:
    return AuditEntry.create(actor="test", action=action, target_type="limits", at=T0)


def _put(store: SqlLimitsStore, scope: Scope, subject_id: str, limits: Limits) -> LimitsUpdate:
    """Replace every field of the subject's limits with ``limits``'s (None clears)."""
    changes = {name: getattr(limits, name) for name in (*LIMIT_FIELDS, "tier")}
    return store.update_limits(scope, subject_id, changes, lambda _old, _new: _audit())


def _audit_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_log)).scalar_one())


def test_is_the_port(store: SqlLimitsStore) -> None:
    port: LimitsStore = store
    assert port is store


def test_nothing_set_reads_as_no_limits(store: SqlLimitsStore) -> None:
    assert store.get_limits(Scope.ORG, "org_a") == NO_LIMITS
    assert store.limits_version() == 0
    snapshot = store.limits_snapshot()
    assert (dict(snapshot.orgs), dict(snapshot.keys), list(snapshot.prices), snapshot.version) == (
        {},
        {},
        [],
        0,
    )


def test_limits_round_trip_per_scope(store: SqlLimitsStore, engine: Engine) -> None:
    org = Limits(rpm=60, tpm=10_000, monthly_budget_krw=5_000_000_000_000, tier=Tier.PRIORITY)
    key = Limits(max_concurrent=2, monthly_tokens=3_000_000_000)

    assert _put(store, Scope.ORG, "same_id", org) == LimitsUpdate(NO_LIMITS, org)
    _put(store, Scope.KEY, "same_id", key)

    assert store.get_limits(Scope.ORG, "same_id") == org
    assert store.get_limits(Scope.KEY, "same_id") == key
    assert _audit_count(engine) == 2


def test_put_replaces_and_all_none_deletes(store: SqlLimitsStore) -> None:
    _put(store, Scope.ORG, "org_a", Limits(rpm=60, tpm=100))
    _put(store, Scope.ORG, "org_a", Limits(tpm=200))
    assert store.get_limits(Scope.ORG, "org_a") == Limits(tpm=200)

    _put(store, Scope.ORG, "org_a", NO_LIMITS)

    assert store.get_limits(Scope.ORG, "org_a") == NO_LIMITS
    assert dict(store.limits_snapshot().orgs) == {}


def test_zero_is_a_limit_not_its_absence(store: SqlLimitsStore) -> None:
    _put(store, Scope.KEY, "key_a", Limits(monthly_budget_krw=0, rpm=0))
    assert store.get_limits(Scope.KEY, "key_a") == Limits(monthly_budget_krw=0, rpm=0)


def test_every_change_moves_the_version(store: SqlLimitsStore) -> None:
    versions = [store.limits_version()]
    _put(store, Scope.ORG, "org_a", Limits(rpm=1))
    versions.append(store.limits_version())
    store.add_price(Price("llama", date(2026, 1, 1), Decimal(1), Decimal(2)), _audit("prices.set"))
    versions.append(store.limits_version())
    _put(store, Scope.ORG, "org_a", NO_LIMITS)
    versions.append(store.limits_version())

    assert versions == sorted(set(versions)) and len(versions) == 4
    assert store.limits_snapshot().version == versions[-1]


def test_prices_round_trip_exactly_and_replace_on_the_same_day(store: SqlLimitsStore) -> None:
    first = Price("llama", date(2026, 1, 1), Decimal("1500.123456"), Decimal("0.000001"))
    later = Price("llama", date(2026, 6, 1), Decimal(2000), Decimal(4000), Decimal("500.5"))
    other = Price("bge", date(2025, 1, 1), Decimal(0), Decimal(0))
    for price in (later, first, other):
        store.add_price(price, _audit("prices.set"))
    replacement = Price("llama", date(2026, 6, 1), Decimal(2100), Decimal(4200))
    store.add_price(replacement, _audit("prices.set"))

    # Decimal equality is by value: 1500.123456 == 1500.123456000, and cached None stays None.
    assert store.list_prices() == [other, first, replacement]
    assert list(store.limits_snapshot().prices) == [other, first, replacement]
    assert store.list_prices()[2].cached_input_krw is None


def test_a_price_finer_than_a_micro_won_is_refused_and_nothing_changes(
    store: SqlLimitsStore, engine: Engine
) -> None:
    with pytest.raises(ValueError, match="six decimal places"):
        store.add_price(Price("llama", date(2026, 1, 1), Decimal("0.0000001"), Decimal(1)), _audit())
    assert store.list_prices() == []
    assert store.limits_version() == 0
    assert _audit_count(engine) == 0


def test_the_change_and_its_audit_entry_commit_together(store: SqlLimitsStore, engine: Engine) -> None:
    # An entry that cannot be stored (detail is not JSON) takes the change down with it.
    bad = AuditEntry.create(actor="test", action="limits.set", target_type="limits", detail={"x": object()})
    with pytest.raises(StoreError):
        store.update_limits(Scope.ORG, "org_a", {"rpm": 5}, lambda _old, _new: bad)
    with pytest.raises(StoreError):
        store.add_price(Price("llama", date(2026, 1, 1), Decimal(1), Decimal(1)), bad)

    assert store.get_limits(Scope.ORG, "org_a") == NO_LIMITS
    assert store.list_prices() == []
    assert store.limits_version() == 0
    assert _audit_count(engine) == 0


def test_snapshot_holds_orgs_keys_and_prices(store: SqlLimitsStore) -> None:
    _put(store, Scope.ORG, "org_a", Limits(rpm=10, tier=Tier.BATCH))
    _put(store, Scope.KEY, "key_a", Limits(rpm=5))
    price = Price("llama", date(2026, 1, 1), Decimal(1), Decimal(2), Decimal("0.5"))
    store.add_price(price, _audit("prices.set"))

    snapshot = store.limits_snapshot()

    assert dict(snapshot.orgs) == {"org_a": Limits(rpm=10, tier=Tier.BATCH)}
    assert dict(snapshot.keys) == {"key_a": Limits(rpm=5)}
    assert list(snapshot.prices) == [price]
    assert snapshot.version == 3


def test_an_unseeded_counter_is_recreated(store: SqlLimitsStore, engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(change_counters.delete().where(change_counters.c.name == "limits"))
    assert store.limits_version() == 0

    _put(store, Scope.ORG, "org_a", Limits(rpm=1))

    assert store.limits_version() == 1


def test_concurrent_writers_each_get_their_own_number(store: SqlLimitsStore) -> None:
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(5):
                _put(store, Scope.KEY, f"key_{n}", Limits(rpm=i + 1))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert store.limits_version() == 20
    assert {k: v.rpm for k, v in store.limits_snapshot().keys.items()} == {f"key_{n}": 5 for n in range(4)}


def test_changes_merge_into_what_is_stored_and_audit_sees_old_and_new(
    store: SqlLimitsStore, engine: Engine
) -> None:
    _put(store, Scope.ORG, "org_a", Limits(rpm=60, tier=Tier.BATCH))
    seen: list[tuple[Limits, Limits]] = []

    def audit_for(old: Limits, new: Limits) -> AuditEntry:
        seen.append((old, new))
        return _audit()

    result = store.update_limits(Scope.ORG, "org_a", {"tpm": 500, "tier": None}, audit_for)

    merged = Limits(rpm=60, tpm=500)
    assert result == LimitsUpdate(Limits(rpm=60, tier=Tier.BATCH), merged) and result.changed
    assert seen == [(Limits(rpm=60, tier=Tier.BATCH), merged)]
    assert store.get_limits(Scope.ORG, "org_a") == merged
    assert _audit_count(engine) == 2


def test_a_change_that_changes_nothing_writes_nothing(store: SqlLimitsStore, engine: Engine) -> None:
    _put(store, Scope.ORG, "org_a", Limits(rpm=60))
    version = store.limits_version()
    calls: list[tuple[Limits, Limits]] = []

    def audit_for(old: Limits, new: Limits) -> AuditEntry:
        calls.append((old, new))
        return _audit()

    same = store.update_limits(Scope.ORG, "org_a", {"rpm": 60}, audit_for)
    cleared = store.update_limits(Scope.KEY, "none", {"rpm": None}, audit_for)

    assert not same.changed and same.after == Limits(rpm=60)
    assert not cleared.changed and cleared.after == NO_LIMITS
    assert calls == []
    assert store.limits_version() == version
    assert _audit_count(engine) == 1


def test_no_audit_entry_when_audit_for_gives_none(store: SqlLimitsStore, engine: Engine) -> None:
    store.update_limits(Scope.ORG, "org_a", {"rpm": 1}, lambda _old, _new: None)

    assert store.get_limits(Scope.ORG, "org_a") == Limits(rpm=1)
    assert store.limits_version() == 1
    assert _audit_count(engine) == 0


def test_the_binding_organisation_is_read_in_the_transaction_and_checked(
    store: SqlLimitsStore, engine: Engine
) -> None:
    _put(store, Scope.ORG, "org_a", Limits(rpm=100))
    checked: list[Limits] = []

    def at_most_org(org: Limits) -> None:
        checked.append(org)
        if org.rpm is not None and org.rpm < 150:
            raise OverflowError("above the organisation")

    ok = store.update_limits(Scope.KEY, "key_a", {"rpm": 50}, lambda *_: _audit(), bound_by="org_a")
    assert ok.org == Limits(rpm=100) and ok.after == Limits(rpm=50)

    version, entries = store.limits_version(), _audit_count(engine)
    with pytest.raises(OverflowError):  # what check raises reaches the caller unchanged
        store.update_limits(
            Scope.KEY, "key_a", {"rpm": 150}, lambda *_: _audit(), bound_by="org_a", check=at_most_org
        )
    assert checked == [Limits(rpm=100)]
    assert store.get_limits(Scope.KEY, "key_a") == Limits(rpm=50)
    assert (store.limits_version(), _audit_count(engine)) == (version, entries)

    unbound = store.update_limits(Scope.KEY, "key_b", {"rpm": 5}, lambda *_: _audit(), bound_by="nobody")
    assert unbound.org == NO_LIMITS


def test_concurrent_changes_to_different_fields_of_one_subject_all_survive(store: SqlLimitsStore) -> None:
    # Each writer pauses between reading the row and writing it (in check): a read-merge-write
    # outside one serialised transaction would lose the other writer's field almost every round.
    fields = ("rpm", "tpm", "max_concurrent", "monthly_tokens")
    rounds = 4
    start = threading.Barrier(len(fields))
    errors: list[BaseException] = []

    def pause(_org: Limits) -> None:
        time.sleep(0.02)

    def write(name: str) -> None:
        try:
            start.wait(timeout=10)
            for i in range(1, rounds + 1):
                store.update_limits(Scope.ORG, "org_a", {name: i}, lambda *_: _audit(), check=pause)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(name,)) for name in fields]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert store.get_limits(Scope.ORG, "org_a") == Limits().with_changes(dict.fromkeys(fields, rounds))
    assert store.limits_version() == len(fields) * rounds
