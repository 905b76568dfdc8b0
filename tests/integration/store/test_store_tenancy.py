"""The TenancyStore contract on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine

from onshore.domain.tenancy import ApiKey
from onshore.ports import AlreadyExists, StoreError, TenancyStore
from onshore.store.sql import SqlTenancyStore, make_engine

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(engine: Engine, clock: FakeClock) -> SqlTenancyStore:
    return SqlTenancyStore(engine, clock=clock)


def make_key(org_id: str, key_id: str, **overrides: object) -> ApiKey:
    values: dict[str, object] = {
        "id": key_id,
        "org_id": org_id,
        "name": f"name-{key_id}",
        "digest": f"digest-{key_id}",
        "prefix": "sk-onshore-ab",
        "created_at": T0,
    }
    values.update(overrides)
    return ApiKey(**values)  # type: ignore[arg-type]


def test_implements_the_port(store: SqlTenancyStore) -> None:
    port: TenancyStore = store
    assert port is store


def test_create_get_and_list_orgs(store: SqlTenancyStore, clock: FakeClock) -> None:
    acme = store.create_org("acme")
    clock.advance(1)
    beta = store.create_org("beta")

    assert acme.id != beta.id
    assert acme.created_at == T0
    assert store.list_orgs() == [acme, beta]
    assert store.get_org(acme.id) == acme
    assert store.get_org_by_name("beta") == beta
    assert store.get_org("org_missing") is None
    assert store.get_org_by_name("missing") is None


def test_duplicate_org_name_raises_already_exists(store: SqlTenancyStore) -> None:
    store.create_org("acme")
    with pytest.raises(AlreadyExists):
        store.create_org("acme")
    assert [org.name for org in store.list_orgs()] == ["acme"]


def test_add_list_get_key_round_trips_every_field(store: SqlTenancyStore, clock: FakeClock) -> None:
    org = store.create_org("acme")
    key = make_key(
        org.id,
        "key_1",
        models=("llama-3.1-8b", "minilm"),
        expires_at=T0 + timedelta(days=30),
    )
    clock.advance(5)

    stored = store.add_key(key)

    assert stored.updated_at == T0 + timedelta(seconds=5)
    fetched = store.get_key("key_1")
    assert fetched == stored
    assert fetched is not None
    assert fetched.models == ("llama-3.1-8b", "minilm")
    assert fetched.created_at.tzinfo is not None
    assert fetched.created_at.utcoffset() == timedelta(0)
    assert store.list_keys() == [stored]
    assert store.list_keys(org.id) == [stored]
    assert store.list_keys("org_other") == []
    assert store.get_key("missing") is None


def test_key_without_allow_list_keeps_none(store: SqlTenancyStore) -> None:
    org = store.create_org("acme")
    store.add_key(make_key(org.id, "key_1"))
    fetched = store.get_key("key_1")
    assert fetched is not None
    assert fetched.models is None


def test_duplicate_digest_raises_already_exists(store: SqlTenancyStore) -> None:
    org = store.create_org("acme")
    store.add_key(make_key(org.id, "key_1", digest="same"))
    with pytest.raises(AlreadyExists):
        store.add_key(make_key(org.id, "key_2", digest="same"))


def test_key_for_unknown_org_is_a_store_error_not_already_exists(store: SqlTenancyStore) -> None:
    with pytest.raises(StoreError) as raised:
        store.add_key(make_key("org_missing", "key_1"))
    assert not isinstance(raised.value, AlreadyExists)


def test_revoke_key(store: SqlTenancyStore, clock: FakeClock) -> None:
    org = store.create_org("acme")
    store.add_key(make_key(org.id, "key_1"))
    clock.advance(10)
    revoked_at = clock.now - timedelta(seconds=1)

    revoked = store.revoke_key("key_1", revoked_at)

    assert revoked is not None
    assert revoked.revoked_at == revoked_at
    assert revoked.updated_at == clock.now
    assert not revoked.is_active(clock.now)
    assert store.get_key("key_1") == revoked
    assert store.revoke_key("missing", clock.now) is None


def test_revoking_twice_keeps_the_first_revocation(store: SqlTenancyStore, clock: FakeClock) -> None:
    org = store.create_org("acme")
    store.add_key(make_key(org.id, "key_1"))
    first = store.revoke_key("key_1", T0)
    clock.advance(60)

    second = store.revoke_key("key_1", clock.now)

    assert second == first


def test_keys_updated_since(store: SqlTenancyStore, clock: FakeClock) -> None:
    org = store.create_org("acme")
    store.add_key(make_key(org.id, "key_1"))
    clock.advance(10)
    store.add_key(make_key(org.id, "key_2"))
    clock.advance(10)
    store.revoke_key("key_1", clock.now)

    assert [k.id for k in store.keys_updated_since(None)] == ["key_2", "key_1"]
    assert [k.id for k in store.keys_updated_since(T0 + timedelta(seconds=10))] == ["key_2", "key_1"]
    assert [k.id for k in store.keys_updated_since(T0 + timedelta(seconds=11))] == ["key_1"]
    # The bound is inclusive: a row stamped exactly at `since` is returned.
    assert [k.id for k in store.keys_updated_since(T0 + timedelta(seconds=20))] == ["key_1"]
    assert store.keys_updated_since(T0 + timedelta(seconds=21)) == []


def test_since_in_another_time_zone_compares_as_the_same_instant(
    store: SqlTenancyStore, clock: FakeClock
) -> None:
    org = store.create_org("acme")
    store.add_key(make_key(org.id, "key_1"))
    seoul = timezone(timedelta(hours=9))
    assert [k.id for k in store.keys_updated_since(T0.astimezone(seoul))] == ["key_1"]
    assert store.keys_updated_since((T0 + timedelta(microseconds=1)).astimezone(seoul)) == []


def test_unreachable_database_raises_store_error() -> None:
    # Port 1 on localhost refuses connections at once: the driver error must not leak.
    engine = make_engine("postgresql://postgres@127.0.0.1:1/nothing")
    store = SqlTenancyStore(engine)
    try:
        for call in (
            lambda: store.create_org("acme"),
            store.list_orgs,
            lambda: store.get_org("x"),
            lambda: store.get_org_by_name("x"),
            lambda: store.add_key(make_key("o", "k")),
            store.list_keys,
            lambda: store.get_key("k"),
            lambda: store.revoke_key("k", T0),
            lambda: store.keys_updated_since(None),
            lambda: store.keys_changed_since_seq(None),
        ):
            with pytest.raises(StoreError) as raised:
                call()
            assert "127.0.0.1" not in str(raised.value)
            assert not isinstance(raised.value, AlreadyExists)
    finally:
        engine.dispose()


def test_unmigrated_sqlite_raises_store_error(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/empty.db")
    try:
        with pytest.raises(StoreError):
            SqlTenancyStore(engine).list_orgs()
    finally:
        engine.dispose()


def test_get_key_by_digest(store: SqlTenancyStore) -> None:
    org = store.create_org("digest-org")
    key = store.add_key(make_key(org.id, "key_by_digest"))
    found = store.get_key_by_digest(key.digest)
    assert found is not None and found.id == "key_by_digest"
    assert store.get_key_by_digest("0" * 64) is None


# --- key changes by database sequence, not by anyone's clock (issue 13, item 8) ----------------------


def test_keys_changed_since_seq(store: SqlTenancyStore, clock: FakeClock) -> None:
    org = store.create_org("acme")
    assert store.keys_changed_since_seq(None) == ([], 0)
    store.add_key(make_key(org.id, "key_1"))
    store.add_key(make_key(org.id, "key_2"))
    keys, seq = store.keys_changed_since_seq(None)
    assert [k.id for k in keys] == ["key_1", "key_2"]

    store.revoke_key("key_1", clock.now)
    changed, newer = store.keys_changed_since_seq(seq)
    assert [(k.id, k.revoked_at) for k in changed] == [("key_1", clock.now)]
    assert newer > seq
    assert store.keys_changed_since_seq(newer) == ([], newer)
    # A second revocation changes nothing, so replicas are told nothing.
    store.revoke_key("key_1", clock.now + timedelta(seconds=5))
    assert store.keys_changed_since_seq(newer)[0] == []


def test_a_revocation_stamped_by_a_clock_10s_behind_is_still_seen(engine: Engine, clock: FakeClock) -> None:
    # Found from outside: polling "updated since my last poll - 5 s" never saw a revocation whose
    # writer's clock was 10 s behind the replica's, so the key kept working without Redis.
    ahead = SqlTenancyStore(engine, clock=clock)
    behind = SqlTenancyStore(engine, clock=lambda: clock.now - timedelta(seconds=10))
    org = ahead.create_org("acme")
    ahead.add_key(make_key(org.id, "key_1"))
    _, seq = ahead.keys_changed_since_seq(None)

    behind.revoke_key("key_1", clock.now - timedelta(seconds=10))

    changed, _ = ahead.keys_changed_since_seq(seq)
    assert [k.id for k in changed] == ["key_1"] and changed[0].revoked_at is not None


def test_numbers_become_visible_in_order_even_when_transactions_overlap(database_url: str) -> None:
    # With a plain SEQUENCE, a change holding number 10 can commit after one holding 11, and a
    # poller that saw 11 would never see 10. The counter row makes the second writer wait.
    engine = make_engine(database_url, pool_size=4)
    store = SqlTenancyStore(engine)
    try:
        org = store.create_org("acme")
        store.add_key(make_key(org.id, "slow"))
        store.add_key(make_key(org.id, "fast"))
        _, seen = store.keys_changed_since_seq(None)
        slow_holds_number = threading.Event()
        let_slow_commit = threading.Event()
        errors: list[BaseException] = []

        def slow() -> None:
            try:
                with store.unit_of_work() as uow:
                    uow.revoke_key("slow", T0)
                    slow_holds_number.set()
                    let_slow_commit.wait(10)
            except BaseException as exc:
                errors.append(exc)

        def fast() -> None:
            try:
                store.revoke_key("fast", T0)
            except BaseException as exc:
                errors.append(exc)

        slow_thread = threading.Thread(target=slow)
        slow_thread.start()
        assert slow_holds_number.wait(10)
        fast_thread = threading.Thread(target=fast)
        fast_thread.start()
        fast_thread.join(0.5)
        assert fast_thread.is_alive()  # queued behind the slower transaction's number

        changed, newer = store.keys_changed_since_seq(seen)
        assert changed == [] and newer == seen  # nothing is visible out of order meanwhile

        let_slow_commit.set()
        slow_thread.join(10)
        fast_thread.join(10)
        assert errors == []
        changed, _ = store.keys_changed_since_seq(seen)
        assert [k.id for k in changed] == ["slow", "fast"]
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_concurrent_changes_are_never_missed_by_a_poller(postgres_url: str) -> None:
    engine = make_engine(postgres_url, pool_size=8)
    store = SqlTenancyStore(engine)
    try:
        org = store.create_org("acme")
        ids = [f"key_{i:03d}" for i in range(60)]
        state: dict[str, ApiKey] = {}
        _, seq = store.keys_changed_since_seq(None)
        done = threading.Event()

        errors: list[BaseException] = []

        def writer(chunk: list[str]) -> None:
            try:
                for key_id in chunk:
                    store.add_key(make_key(org.id, key_id))
                    store.revoke_key(key_id, T0)
            except BaseException as exc:
                errors.append(exc)

        def poll() -> None:
            nonlocal seq
            while not done.is_set():
                changed, seq = store.keys_changed_since_seq(seq)
                state.update((k.id, k) for k in changed)

        poller = threading.Thread(target=poll)
        poller.start()
        writers = [threading.Thread(target=writer, args=(ids[i::4],)) for i in range(4)]
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join(60)
        assert errors == []
        done.set()
        poller.join(10)
        # One more poll after the last commit. A change the poller skipped (its number at or below
        # what it had seen) would not come back here, leaving its key missing or unrevoked.
        changed, seq = store.keys_changed_since_seq(seq)
        state.update((k.id, k) for k in changed)
        assert sorted(state) == ids
        assert all(k.revoked_at is not None for k in state.values())
    finally:
        engine.dispose()
