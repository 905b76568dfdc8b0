"""KeySync on a real database: a revocation is applied whatever the revoking host's clock says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from onshore.domain.tenancy import ApiKey
from onshore.gateway.auth import KeyCache
from onshore.gateway.key_sync import KeySync
from onshore.store.sql import SqlTenancyStore


def make_key(org_id: str, key_id: str) -> ApiKey:
    return ApiKey(
        id=key_id,
        org_id=org_id,
        name=key_id,
        digest=f"digest-{key_id}",
        prefix="sk-onshore-ab",
        created_at=datetime.now(UTC),
    )


async def test_a_revocation_from_a_host_10s_behind_is_applied_on_the_next_poll(engine: Engine) -> None:
    replica_store = SqlTenancyStore(engine)
    lagging_host = SqlTenancyStore(engine, clock=lambda: datetime.now(UTC) - timedelta(seconds=10))
    org = replica_store.create_org("acme")
    replica_store.add_key(make_key(org.id, "key_1"))
    cache = KeyCache()
    sync = KeySync(replica_store, cache, interval_s=60)
    await sync.load()
    assert cache.lookup("digest-key_1") is not None
    await sync.refresh()  # a poll with nothing new, so "since" has moved past the key's creation

    lagging_host.revoke_key("key_1", datetime.now(UTC) - timedelta(seconds=10))
    await sync.refresh()

    assert cache.lookup("digest-key_1") is None


async def test_new_keys_and_their_organisations_are_learnt(engine: Engine) -> None:
    store = SqlTenancyStore(engine)
    cache = KeyCache()
    sync = KeySync(store, cache, interval_s=60)
    await sync.load()
    org = store.create_org("late-org")
    store.add_key(make_key(org.id, "key_late"))

    await sync.refresh()

    found = cache.lookup("digest-key_late")
    assert found is not None and found[1].org_name == "late-org"
