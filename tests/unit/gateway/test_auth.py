from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from onshore.domain.keys import KeyDigester, new_key_secret
from onshore.domain.tenancy import ApiKey, Organisation
from onshore.errors import AuthenticationFailed
from onshore.gateway.auth import Authenticator, KeyCache, MissGuard

NOW = datetime(2026, 11, 25, tzinfo=UTC)
DIGESTER = KeyDigester(b"0123456789abcdef0123456789abcdef")


def _key(secret: str, **changes: object) -> ApiKey:
    values: dict[str, object] = {
        "id": "key_1",
        "org_id": "org_1",
        "name": "k",
        "digest": DIGESTER.digest(secret),
        "prefix": secret[:17],
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(changes)
    return ApiKey(**values)  # type: ignore[arg-type]


def _auth(*keys: ApiKey) -> tuple[Authenticator, KeyCache]:
    cache = KeyCache()
    cache.set_org_names({"org_1": "acme"})
    cache.apply(keys, now=NOW)
    return Authenticator(DIGESTER, cache), cache


async def test_valid_key_gives_its_principal() -> None:
    secret = new_key_secret()
    auth, _ = _auth(_key(secret, models=("a",)))
    principal = await auth.authenticate(f"Bearer {secret}", now=NOW)
    assert principal.org_name == "acme" and principal.may_use("a") and not principal.may_use("b")


@pytest.mark.parametrize(
    "header", [None, "", "Basic abc", "Bearer ", "Bearer sk-onshore-short", "Bearer sk-onshore-" + "x" * 43]
)
async def test_bad_headers_fail(header: str | None) -> None:
    auth, _ = _auth(_key(new_key_secret()))
    with pytest.raises(AuthenticationFailed):
        await auth.authenticate(header, now=NOW)


async def test_revocation_and_expiry() -> None:
    secret = new_key_secret()
    auth, cache = _auth(_key(secret, expires_at=NOW + timedelta(hours=1)))
    await auth.authenticate(f"Bearer {secret}", now=NOW)
    with pytest.raises(AuthenticationFailed):
        await auth.authenticate(f"Bearer {secret}", now=NOW + timedelta(hours=2))
    cache.apply([_key(secret, revoked_at=NOW)], now=NOW)
    with pytest.raises(AuthenticationFailed):
        await auth.authenticate(f"Bearer {secret}", now=NOW)
    assert len(cache) == 0


async def test_forget_removes_at_once() -> None:
    secret = new_key_secret()
    auth, cache = _auth(_key(secret))
    cache.forget("key_1")
    with pytest.raises(AuthenticationFailed):
        await auth.authenticate(f"Bearer {secret}", now=NOW)


def test_digest_is_keyed() -> None:
    other = KeyDigester(b"another-secret-of-16+bytes")
    assert DIGESTER.digest("sk-onshore-x") != other.digest("sk-onshore-x")
    with pytest.raises(ValueError):
        KeyDigester(b"short")


class Lookup:
    def __init__(self, *keys: ApiKey):
        self.keys = {k.digest: k for k in keys}
        self.calls = 0

    def get_key_by_digest(self, digest: str) -> ApiKey | None:
        self.calls += 1
        return self.keys.get(digest)

    def get_org(self, org_id: str) -> Organisation | None:
        return Organisation(org_id, "kakao", NOW)


async def test_a_key_created_elsewhere_works_at_once() -> None:
    secret = new_key_secret()
    lookup = Lookup(_key(secret, org_id="org_2"))
    auth = Authenticator(DIGESTER, KeyCache(), lookup)
    principal = await auth.authenticate(f"Bearer {secret}", now=NOW)
    assert principal.org_name == "kakao"
    await auth.authenticate(f"Bearer {secret}", now=NOW)
    assert lookup.calls == 1  # cached after the first lookup


async def test_unknown_keys_cost_bounded_lookups() -> None:
    lookup = Lookup()
    auth = Authenticator(DIGESTER, KeyCache(), lookup, MissGuard(rate=0.0, burst=3))
    bad = "Bearer " + new_key_secret()
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            await auth.authenticate(bad, now=NOW)
    assert lookup.calls == 1  # then the negative cache answers
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            await auth.authenticate("Bearer " + new_key_secret(), now=NOW)
    assert lookup.calls == 3  # the bucket is empty: no more lookups


async def test_revoked_key_is_not_resurrected_by_a_lookup() -> None:
    secret = new_key_secret()
    auth = Authenticator(DIGESTER, KeyCache(), Lookup(_key(secret, revoked_at=NOW)))
    with pytest.raises(AuthenticationFailed):
        await auth.authenticate(f"Bearer {secret}", now=NOW)


def test_the_miss_guard_runs_on_the_clock_it_is_given() -> None:
    from tests.support.fakes import ManualClock

    clock = ManualClock()
    guard = MissGuard(rate=1.0, burst=1.0, negative_ttl_s=2.0, clock=clock)
    assert guard.may_look_up("d1")
    assert not guard.may_look_up("d2")  # the bucket is empty until time moves
    guard.remember_unknown("d1")
    clock.advance(1.0)
    assert not guard.may_look_up("d1")  # still in the negative cache
    clock.advance(1.5)
    assert guard.may_look_up("d1")
