"""Authenticate a partner key against an in-memory snapshot of the key table.

The snapshot is loaded at start and kept in sync off the request path (``KeySync``), so a request
never waits for the database. A key changed on this replica is applied at once; other replicas see
it within ``auth.sync_interval_s`` by polling, or at once through the Redis revocation bus.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Iterable
from datetime import UTC, datetime

from onshore.domain.tenancy import ApiKey, Principal
from onshore.errors import AuthenticationFailed
from onshore.gateway.keys import KeyDigester, looks_like_key

_BEARER = "bearer "


class KeyCache:
    """digest -> (key, principal). Replaced entry by entry; reads need no lock (dict ops are atomic)."""

    def __init__(self) -> None:
        self._by_digest: dict[str, tuple[ApiKey, Principal]] = {}
        self._digest_by_id: dict[str, str] = {}
        self._org_names: dict[str, str] = {}
        self._write_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._by_digest)

    def set_org_names(self, names: dict[str, str]) -> None:
        self._org_names.update(names)

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


class Authenticator:
    __slots__ = ("_cache", "_digester")

    def __init__(self, digester: KeyDigester, cache: KeyCache):
        self._digester = digester
        self._cache = cache

    def authenticate(self, authorization: str | None, now: datetime | None = None) -> Principal:
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
            raise AuthenticationFailed
        key, principal = entry
        # The dict lookup found it by digest; compare in constant time all the same, so no timing
        # difference ever depends on how much of a guessed digest matched.
        if not hmac.compare_digest(key.digest, digest):  # pragma: no cover - defensive
            raise AuthenticationFailed
        if principal.expires_at is not None and (now or datetime.now(UTC)) >= principal.expires_at:
            raise AuthenticationFailed
        return principal
