"""The authenticator during a key-digest secret rotation, with a recording ``KeyRewriter``."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime

from onshore.domain.audit import AuditEntry
from onshore.domain.keys import KeyDigester, new_key_secret
from onshore.domain.tenancy import ApiKey
from onshore.gateway.auth import Authenticator, KeyCache

NOW = datetime(2026, 12, 7, tzinfo=UTC)
A = b"secret-a-0123456789abcdef"
B = b"secret-b-0123456789abcdef"


class Rewrites:
    """A ``KeyRewriter`` that records what it was asked and does it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, str, AuditEntry | None]] = []
        self.keys: dict[str, ApiKey] = {}

    def rehash_key(
        self, key_id: str, old_digest: str, new_digest: str, secret_id: str, audit: AuditEntry | None = None
    ) -> ApiKey | None:
        self.calls.append((key_id, old_digest, new_digest, secret_id, audit))
        key = self.keys[key_id]
        if key.digest != old_digest:
            return None
        self.keys[key_id] = dataclasses.replace(key, digest=new_digest, secret_id=secret_id)
        return self.keys[key_id]


def _setup(digester: KeyDigester, key: ApiKey) -> tuple[Authenticator, Rewrites]:
    cache = KeyCache()
    cache.set_org_names({"org_1": "acme"})
    cache.apply([key], now=NOW)
    rewrites = Rewrites()
    rewrites.keys[key.id] = key
    return Authenticator(digester, cache, rewriter=rewrites), rewrites


def _key(secret: str, made_by: KeyDigester, secret_id: str | None) -> ApiKey:
    return ApiKey("key_1", "org_1", "k", made_by.digest(secret), secret[:17], NOW, secret_id=secret_id)


async def _settle() -> None:
    for _ in range(50):
        await asyncio.sleep(0.01)


async def test_a_current_key_with_its_generation_is_never_rewritten() -> None:
    secret, digester = new_key_secret(), KeyDigester(B, previous=(A,))
    auth, rewrites = _setup(digester, _key(secret, digester, digester.secret_id))
    for _ in range(3):
        await auth.authenticate(f"Bearer {secret}")
    await _settle()
    assert rewrites.calls == []


async def test_a_key_under_a_previous_secret_is_rehashed_once_and_audited() -> None:
    secret, old = new_key_secret(), KeyDigester(A)
    digester = KeyDigester(B, previous=(A,))
    auth, rewrites = _setup(digester, _key(secret, old, old.secret_id))
    for _ in range(3):
        assert (await auth.authenticate(f"Bearer {secret}")).key_id == "key_1"
    await _settle()
    [(key_id, before, after, secret_id, audit)] = rewrites.calls
    assert (key_id, before, after, secret_id) == (
        "key_1",
        old.digest(secret),
        digester.digest(secret),
        digester.secret_id,
    )
    assert audit is not None and audit.action == "key.rehashed" and audit.actor == "system"
    assert audit.detail["from_secret"] == old.secret_id and secret not in str(audit.detail)
    assert (await auth.authenticate(f"Bearer {secret}")).key_id == "key_1"  # now on the current path
    await _settle()
    assert len(rewrites.calls) == 1


async def test_a_key_without_a_recorded_generation_is_stamped_once_without_an_entry() -> None:
    secret, digester = new_key_secret(), KeyDigester(A)
    auth, rewrites = _setup(digester, _key(secret, digester, None))
    await auth.authenticate(f"Bearer {secret}")
    await auth.authenticate(f"Bearer {secret}")
    await _settle()
    [(_, before, after, secret_id, audit)] = rewrites.calls
    assert before == after == digester.digest(secret) and secret_id == digester.secret_id and audit is None


async def test_a_key_under_the_next_secret_is_accepted_and_left_alone() -> None:
    secret, coming = new_key_secret(), KeyDigester(B)
    auth, rewrites = _setup(KeyDigester(A, upcoming=(B,)), _key(secret, coming, coming.secret_id))
    assert (await auth.authenticate(f"Bearer {secret}")).key_id == "key_1"
    await _settle()
    assert rewrites.calls == []
