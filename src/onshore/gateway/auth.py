"""Authenticate a partner key against an in-memory snapshot of the key table.

The snapshot is loaded at start and kept in sync off the request path (``KeySync``), so a request
with a known key never waits for the database; an unknown key costs at most one guarded lookup (so a
key created a moment ago works at once). A key changed on this replica is applied at once; other replicas see
it within ``auth.sync_interval_s`` by polling, or at once through the Redis revocation bus.

During a rotation of the key-digest secret (docs/operators.md) a key unknown under the current
secret is tried under the next and previous ones (in the snapshot, then in the database); one found
under a previous secret is re-hashed with the current one, once, off the request path. A key known
under the current secret costs exactly what it did before.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Protocol

from onshore.domain.audit import AuditEntry
from onshore.domain.keys import KeyDigester, looks_like_key
from onshore.domain.tenancy import ApiKey, Organisation, Principal
from onshore.errors import AuthenticationFailed, ServiceUnavailable
from onshore.gateway.clock import SystemClock
from onshore.ports import Clock, StoreError

_BEARER = "bearer "
_REWRITE_RETRY_S = 30.0  # a key whose re-hash failed or was done elsewhere is not tried before this
log = logging.getLogger(__name__)


class KeyCache:
    """digest -> (key, principal). Replaced entry by entry; reads need no lock (dict ops are atomic)."""

    def __init__(self) -> None:
        self._by_digest: dict[str, tuple[ApiKey, Principal]] = {}
        self._digest_by_id: dict[str, str] = {}
        self._org_names: dict[str, str] = {}
        self._write_lock = threading.Lock()
        self.loaded = False  # the first full load from the database has happened

    def mark_loaded(self) -> None:
        self.loaded = True

    def __len__(self) -> int:
        return len(self._by_digest)

    def set_org_names(self, names: dict[str, str]) -> None:
        self._org_names.update(names)

    def org_name(self, org_id: str) -> str:
        """The organisation's name (its id when not known yet): for metrics labels and listings."""
        return self._org_names.get(org_id, org_id)

    def knows_org(self, org_id: str) -> bool:
        return org_id in self._org_names

    def apply(self, keys: Iterable[ApiKey], now: datetime | None = None) -> None:
        moment = now or datetime.now(UTC)
        with self._write_lock:
            for key in keys:
                old_digest = self._digest_by_id.pop(key.id, None)
                if old_digest is not None:
                    self._by_digest.pop(old_digest, None)
                if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= moment):
                    continue
                principal = Principal(
                    key_id=key.id,
                    org_id=key.org_id,
                    org_name=self._org_names.get(key.org_id, key.org_id),
                    models=frozenset(key.models) if key.models is not None else None,
                    expires_at=key.expires_at,
                )
                self._by_digest[key.digest] = (key, principal)
                self._digest_by_id[key.id] = key.digest

    def forget(self, key_id: str) -> None:
        with self._write_lock:
            digest = self._digest_by_id.pop(key_id, None)
            if digest is not None:
                self._by_digest.pop(digest, None)

    def lookup(self, digest: str) -> tuple[ApiKey, Principal] | None:
        return self._by_digest.get(digest)

    def principal_for(self, key_id: str) -> Principal | None:
        """The principal of a key by its id (None: unknown, revoked or expired at the last apply)."""
        digest = self._digest_by_id.get(key_id)
        entry = None if digest is None else self._by_digest.get(digest)
        return None if entry is None else entry[1]


class KeyLookup(Protocol):
    """What a cache miss may ask the database (``TenancyStore`` satisfies it)."""

    def get_key_by_digest(self, digest: str) -> ApiKey | None: ...
    def get_org(self, org_id: str) -> Organisation | None: ...


class MissGuard:
    """Bounds what unknown keys can cost: a token bucket for lookups and a short negative cache.

    A key created a moment ago on another host is found by one lookup instead of waiting for the
    next sync; a flood of made-up keys costs at most ``rate`` lookups a second.
    """

    def __init__(
        self,
        rate: float = 20.0,
        burst: float = 50.0,
        negative_ttl_s: float = 2.0,
        size: int = 10_000,
        clock: Clock | None = None,
    ):
        self._rate, self._burst, self._ttl, self._size = rate, burst, negative_ttl_s, size
        self._clock: Clock = clock or SystemClock()
        self._tokens = burst
        self._stamp = self._clock.monotonic()
        self._negative: dict[str, float] = {}

    def may_look_up(self, digest: str) -> bool:
        now = self._clock.monotonic()
        until = self._negative.get(digest)
        if until is not None:
            if until > now:
                return False
            del self._negative[digest]
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True

    def remember_unknown(self, digest: str) -> None:
        if len(self._negative) >= self._size:
            self._negative.clear()
        self._negative[digest] = self._clock.monotonic() + self._ttl


def _always() -> bool:
    return True


class KeyRewriter(Protocol):
    """Where a key's digest is re-made with the current secret (``TenancyStore`` satisfies it)."""

    def rehash_key(
        self, key_id: str, old_digest: str, new_digest: str, secret_id: str, audit: AuditEntry | None = None
    ) -> ApiKey | None: ...


class Authenticator:
    __slots__ = (
        "_cache",
        "_clock",
        "_digester",
        "_guard",
        "_lookup",
        "_ready",
        "_rewriter",
        "_rewriting",
        "_tasks",
    )

    def __init__(
        self,
        digester: KeyDigester,
        cache: KeyCache,
        lookup: KeyLookup | None = None,
        guard: MissGuard | None = None,
        ready: Callable[[], bool] | None = None,
        clock: Clock | None = None,
        rewriter: KeyRewriter | None = None,
    ):
        self._clock: Clock = clock or SystemClock()
        self._ready = ready or _always
        self._digester = digester
        self._cache = cache
        self._lookup = lookup
        self._guard = guard or MissGuard(clock=self._clock)
        self._rewriter = rewriter
        self._rewriting: dict[str, float] = {}  # key id -> when it may be tried again
        self._tasks: set[asyncio.Task[None]] = set()

    async def authenticate(self, authorization: str | None, now: datetime | None = None) -> Principal:
        """Return who is calling, or raise AuthenticationFailed (never says why, on purpose)."""
        if not authorization or authorization[:7].lower() != _BEARER:
            raise AuthenticationFailed(
                "You didn't provide an API key. Use the header 'Authorization: Bearer sk-onshore-...'."
            )
        token = authorization[7:].strip()
        if not looks_like_key(token):
            raise AuthenticationFailed
        digest = self._digester.digest(token)
        entry = self._cache.lookup(digest)
        if entry is None:
            # Only a miss pays for the previous secrets (and, at most once, a database lookup).
            entry = await self._load_missing(token, digest, now)
        else:
            # The dict lookup found it by digest; compare in constant time all the same, so no
            # timing difference ever depends on how much of a guessed digest matched.
            if not hmac.compare_digest(entry[0].digest, digest):  # pragma: no cover - defensive
                raise AuthenticationFailed
            if entry[0].secret_id is None:  # made before generations were recorded: once
                self._rewrite(entry[0], digest, digest, None)
        principal = entry[1]
        if principal.expires_at is not None and (now or self._clock.now()) >= principal.expires_at:
            raise AuthenticationFailed
        return principal

    def recheck(self, principal: Principal, now: datetime | None = None) -> Principal:
        """The same key's principal as it stands now: for requests the gateway makes on a key's
        behalf (a batch's), which carry no secret. AuthenticationFailed once it is revoked or expired."""
        current = self._cache.principal_for(principal.key_id)
        if current is None or current.org_id != principal.org_id:
            raise AuthenticationFailed("The API key that created this batch is no longer valid.")
        if current.expires_at is not None and (now or self._clock.now()) >= current.expires_at:
            raise AuthenticationFailed("The API key that created this batch is no longer valid.")
        return current

    async def _load_missing(self, token: str, digest: str, now: datetime | None) -> tuple[ApiKey, Principal]:
        if not self._ready():
            # No snapshot yet (the database has not answered since start): say so, don't say 401.
            raise ServiceUnavailable
        older = self._digester.older_digests(token)  # [] unless previous secrets are configured
        for old_digest, old_id in older:
            entry = self._cache.lookup(old_digest)
            if entry is not None:
                self._rewrite(entry[0], old_digest, digest, old_id)
                return entry
        if self._lookup is None or not self._guard.may_look_up(digest):
            raise AuthenticationFailed
        lookup = self._lookup
        found: tuple[str, str | None] = (digest, None)
        try:
            key = await asyncio.to_thread(lookup.get_key_by_digest, digest)
            for old_digest, old_id in older:
                if key is not None:
                    break
                key = await asyncio.to_thread(lookup.get_key_by_digest, old_digest)
                found = (old_digest, old_id)
            if key is not None and not self._cache.knows_org(key.org_id):
                org = await asyncio.to_thread(lookup.get_org, key.org_id)
                if org is not None:
                    self._cache.set_org_names({org.id: org.name})
        except StoreError:
            raise AuthenticationFailed from None
        if key is not None:
            self._cache.apply([key], now)
        entry = self._cache.lookup(found[0])
        if entry is None:
            self._guard.remember_unknown(digest)
            raise AuthenticationFailed
        if found[1] is not None:
            self._rewrite(entry[0], found[0], digest, found[1])
        return entry

    def _rewrite(self, key: ApiKey, old_digest: str, new_digest: str, old_id: str | None) -> None:
        """Re-hash ``key`` with the current secret (or record its generation), off the request path.

        Once per key: a replica that lost the race (another one re-hashed it first) waits for the
        key sync instead of asking again on every request.
        """
        if self._rewriter is None or old_id in self._digester.upcoming_ids:
            return  # a key hashed with the secret about to become current stays as it is
        moment = self._clock.monotonic()
        if self._rewriting.get(key.id, 0.0) > moment:
            return
        self._rewriting[key.id] = moment + _REWRITE_RETRY_S
        task = asyncio.get_running_loop().create_task(self._rewrite_now(key, old_digest, new_digest, old_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _rewrite_now(self, key: ApiKey, old_digest: str, new_digest: str, old_id: str | None) -> None:
        assert self._rewriter is not None  # checked by _rewrite
        current = self._digester.secret_id
        audit = None
        if old_digest != new_digest:  # never the key, nor a digest: which generations, and whose key
            audit = AuditEntry.create(
                actor="system",
                action="key.rehashed",
                target_type="api_key",
                target_id=key.id,
                org_id=key.org_id,
                detail={"prefix": key.prefix, "from_secret": old_id, "to_secret": current},
            )
        try:
            updated = await asyncio.to_thread(
                self._rewriter.rehash_key, key.id, old_digest, new_digest, current, audit
            )
        except StoreError:
            log.warning("could not re-hash key %s; it is tried again on a later use", key.id)
            return
        if updated is not None:
            self._cache.apply([updated])
