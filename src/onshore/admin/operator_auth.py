"""Who is calling the admin API or the console: an operator token, or the break-glass admin token.

Lookups are cheap: a token's answer (its operator, or "unknown") is kept in process for ``ttl_s``
(1 s), so a busy console or script costs at most one indexed query per token per second and
replica, and a token revoked anywhere stops working everywhere within that second, with no bus
to depend on. A revocation made through this replica clears the cache at once (``forget_all``).
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Callable
from datetime import UTC, datetime

from onshore.domain.operators import (
    BREAK_GLASS,
    BREAK_GLASS_TOKEN_ID,
    Caller,
    Operator,
    OperatorToken,
    caller_for,
    looks_like_operator_token,
    token_digest,
)
from onshore.errors import AuthenticationFailed, ServiceUnavailable
from onshore.ports import OperatorStore, StoreError

TTL_S = 1.0
_MAX_CACHED = 10_000
_Found = tuple[Operator, OperatorToken] | None


class OperatorAuth:
    def __init__(
        self,
        store: OperatorStore | None,
        break_glass_token: str | None,
        *,
        session_keys: tuple[bytes, ...] = (),
        ttl_s: float = TTL_S,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self._store = store
        self._break_glass = break_glass_token.encode() if break_glass_token else None
        self.session_keys = session_keys  # console cookies (web/session.py); the first one signs
        self._ttl = ttl_s
        self._monotonic = monotonic
        self._now = now
        self._by_digest: dict[str, tuple[float, _Found]] = {}
        self._by_id: dict[str, tuple[float, _Found]] = {}

    @property
    def break_glass_enabled(self) -> bool:
        return self._break_glass is not None

    async def authenticate(self, token: str) -> Caller:
        """The caller a bearer token proves, or AuthenticationFailed (never saying why)."""
        if looks_like_operator_token(token):
            found = await self._cached(self._by_digest, token_digest(token), self._find)
            caller = self._active(found)
            if caller is not None:
                return caller
            raise AuthenticationFailed("Invalid admin token.", code="invalid_admin_token")
        if self._break_glass is None:
            raise AuthenticationFailed(
                "The admin token is not set or too weak (admin.token_env): use an operator token "
                "(onshore operators create).",
                code="admin_disabled",
            )
        if hmac.compare_digest(token.encode(), self._break_glass):
            return BREAK_GLASS
        raise AuthenticationFailed("Invalid admin token.", code="invalid_admin_token")

    async def by_token_id(self, token_id: str) -> Caller | None:
        """The caller of a console session (made from token ``token_id``), None once it is revoked,
        expired or unknown."""
        if token_id == BREAK_GLASS_TOKEN_ID:
            return BREAK_GLASS if self._break_glass is not None else None
        return self._active(await self._cached(self._by_id, token_id, self._get))

    def forget_all(self) -> None:
        """After a revocation through this replica: nothing cached survives it here."""
        self._by_digest.clear()
        self._by_id.clear()

    def _active(self, found: _Found) -> Caller | None:
        if found is None:
            return None
        operator, token = found
        if operator.revoked_at is not None or not token.is_active(self._now()):
            return None
        return caller_for(operator, token)

    async def _cached(
        self, cache: dict[str, tuple[float, _Found]], key: str, load: Callable[[str], _Found]
    ) -> _Found:
        now = self._monotonic()
        hit = cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        if self._store is None:
            return None
        try:
            found = await asyncio.to_thread(load, key)
        except StoreError:
            raise ServiceUnavailable from None  # the database is down: not a wrong token
        if len(cache) >= _MAX_CACHED:  # made-up tokens must not grow it without bound
            cache.clear()
        cache[key] = (now + self._ttl, found)
        return found

    def _find(self, digest: str) -> _Found:
        assert self._store is not None  # checked by _cached
        return self._store.find_token(digest)

    def _get(self, token_id: str) -> _Found:
        assert self._store is not None  # checked by _cached
        return self._store.get_token(token_id)
