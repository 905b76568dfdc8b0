"""Rotating the key-digest secret on SQLite and PostgreSQL: keys made under secret A keep working
with B current and A previous, are re-hashed (once, audited), and then work with A gone."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Engine, select, update

from onshore.admin.key_rehash import rehash_status
from onshore.admin.tenancy import create_key, create_org
from onshore.domain.keys import KeyDigester
from onshore.errors import AuthenticationFailed
from onshore.gateway.auth import Authenticator, KeyCache
from onshore.store.sql.schema import api_keys, audit_log
from onshore.store.sql.tenancy import SqlTenancyStore

A = b"secret-a-0123456789abcdef"
B = b"secret-b-0123456789abcdef"


async def _authenticator(store: SqlTenancyStore, digester: KeyDigester) -> Authenticator:
    cache = KeyCache()
    keys, _ = store.keys_changed_since_seq(None)
    cache.set_org_names({o.id: o.name for o in store.list_orgs()})
    cache.apply(keys)
    return Authenticator(digester, cache, store, rewriter=store)


async def _settle() -> None:
    for _ in range(100):  # the re-hash runs off the request path, in a worker thread
        await asyncio.sleep(0.02)
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        if not pending:
            return


async def test_a_key_made_under_the_old_secret_is_rehashed_on_use(engine: Engine) -> None:
    store = SqlTenancyStore(engine)
    create_org(store, "acme")
    new = create_key(store, KeyDigester(A), "acme")
    assert new.key.secret_id == KeyDigester(A).secret_id
    rotated = KeyDigester(B, previous=(A,))
    assert rehash_status(store, rotated)["previous"] == {rotated.previous_ids[0]: 1}

    auth = await _authenticator(store, rotated)
    principal = await auth.authenticate(f"Bearer {new.secret}")
    assert principal.key_id == new.key.id
    await _settle()
    stored = store.get_key(new.key.id)
    assert stored is not None and stored.digest == rotated.digest(new.secret)
    assert stored.secret_id == rotated.secret_id
    assert (await auth.authenticate(f"Bearer {new.secret}")).key_id == new.key.id
    with engine.connect() as conn:
        entries = conn.execute(select(audit_log).where(audit_log.c.action == "key.rehashed")).all()
    assert len(entries) == 1 and entries[0].target_id == new.key.id and entries[0].actor == "system"
    assert new.secret not in str(entries[0].detail) and stored.digest not in str(entries[0].detail)
    status = rehash_status(store, rotated)
    assert status["current_keys"] == 1 and status["done"]

    # The old secret dropped: a fresh replica with B alone still knows the key.
    only_b = await _authenticator(store, KeyDigester(B))
    assert (await only_b.authenticate(f"Bearer {new.secret}")).key_id == new.key.id


async def test_a_replica_a_step_behind_accepts_a_rehashed_key_and_leaves_it(engine: Engine) -> None:
    store = SqlTenancyStore(engine)
    create_org(store, "acme")
    new = create_key(store, KeyDigester(B), "acme")  # by a replica already on step 2 (B current)
    step_one = await _authenticator(store, KeyDigester(A, upcoming=(B,)))
    assert (await step_one.authenticate(f"Bearer {new.secret}")).key_id == new.key.id
    await _settle()
    stored = store.get_key(new.key.id)
    assert stored is not None and stored.digest == new.key.digest  # not re-hashed back to A
    assert rehash_status(store, KeyDigester(A, upcoming=(B,)))["upcoming_keys"] == 1


async def test_without_the_previous_secret_an_old_key_is_refused(engine: Engine) -> None:
    store = SqlTenancyStore(engine)
    create_org(store, "acme")
    new = create_key(store, KeyDigester(A), "acme")
    auth = await _authenticator(store, KeyDigester(B))
    with pytest.raises(AuthenticationFailed):
        await auth.authenticate(f"Bearer {new.secret}")


async def test_a_key_made_before_generations_were_recorded_is_stamped_on_use(engine: Engine) -> None:
    store = SqlTenancyStore(engine)
    create_org(store, "acme")
    new = create_key(store, KeyDigester(A), "acme")
    with engine.begin() as conn:  # as a release before 0009 wrote it
        conn.execute(update(api_keys).values(secret_id=None))
    assert rehash_status(store, KeyDigester(A))["unrecorded"] == 1
    auth = await _authenticator(store, KeyDigester(A))
    await auth.authenticate(f"Bearer {new.secret}")
    await _settle()
    stored = store.get_key(new.key.id)
    assert stored is not None and stored.secret_id == KeyDigester(A).secret_id
    assert stored.digest == new.key.digest
    assert rehash_status(store, KeyDigester(A))["done"]


def test_a_rehash_is_a_compare_and_set(engine: Engine) -> None:
    store = SqlTenancyStore(engine)
    create_org(store, "acme")
    new = create_key(store, KeyDigester(A), "acme")
    b = KeyDigester(B)
    first = store.rehash_key(new.key.id, new.key.digest, b.digest(new.secret), b.secret_id)
    assert first is not None and first.digest == b.digest(new.secret)
    # Another replica, a moment later, with the digest it saw before: nothing happens.
    assert store.rehash_key(new.key.id, new.key.digest, b.digest(new.secret), b.secret_id) is None
    _, seq_after = store.keys_changed_since_seq(None)
    changed, _ = store.keys_changed_since_seq(seq_after - 1)
    assert [k.id for k in changed] == [new.key.id]  # replicas see the new digest by their key sync
