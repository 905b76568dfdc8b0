"""Console sessions: a signed cookie any replica can check, and the CSRF token bound to it.

Why stateless: the console is served by every gateway replica behind a load balancer, so a session
must be verifiable without a shared session table. The signing keys are derived one-way from the
key-digest secrets and the break-glass admin token (``bootstrap/operators.py``), so

- rotating the admin token or the digest secret logs every console session out, on every replica;
- while a digest-secret rotation rolls, a session signed with the previous secret still verifies
  (every key verifies, the first one signs);
- the cookie never contains an operator's token, and no token or secret can be recovered from a
  cookie or a CSRF token (both are HMAC outputs).

The cookie is ``<session id>.<operator token id>.<expiry, unix seconds>.<signature>``: the token id
names who signed in (every request looks it up, so a revoked or expired token ends its sessions
within a second). The CSRF token is a second HMAC of the session id, so a form posted from another
site (which cannot read the page) cannot carry it, and a token from one session is worthless in
another.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SESSION_COOKIE = "onshore_console"
FLASH_COOKIE = "onshore_flash"  # a new key, sealed, on its way from the POST to the page after it
FLASH_TTL_S = 120
SESSION_TTL_S = 8 * 3600  # a working day; the operator logs in again the next morning
_SAFE_ID = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")


@dataclass(frozen=True, slots=True)
class Session:
    session_id: str
    expires_at: int
    token_id: str  # the operator token signed in with (``BREAK_GLASS_TOKEN_ID`` for the admin token)
    key_index: int = field(default=0, compare=False)  # which signing key verified it


class SessionSigner:
    def __init__(self, keys: Sequence[bytes]):
        if not keys:
            raise ValueError("a session signer needs at least one key")
        self._keys = tuple(keys)
        self._sealing = tuple(AESGCM(hmac.new(key, b"flash", hashlib.sha256).digest()) for key in self._keys)

    def issue(self, now: float, token_id: str) -> tuple[Session, str]:
        """A new session of the operator signed in with ``token_id``, and its cookie value."""
        if not token_id or not set(token_id) <= _SAFE_ID:
            raise ValueError("a token id is lower-case letters, digits, '_' and '-'")
        session = Session(secrets.token_urlsafe(18), int(now) + SESSION_TTL_S, token_id)
        payload = f"{session.session_id}.{token_id}.{session.expires_at}"
        return session, f"{payload}.{self._sign(0, b'session:' + payload.encode())}"

    def verify(self, cookie: str | None, now: float) -> Session | None:
        """The session a cookie proves, or None (absent, forged, tampered with or expired)."""
        if not cookie or len(cookie) > 250:
            return None
        parts = cookie.split(".")
        if len(parts) != 4 or not parts[2].isdigit():
            return None
        session_id, token_id, expiry, signature = parts
        message = f"session:{session_id}.{token_id}.{expiry}".encode()
        for index in range(len(self._keys)):
            if hmac.compare_digest(signature, self._sign(index, message)):
                if int(expiry) <= now:
                    return None
                return Session(session_id, int(expiry), token_id, index)
        return None

    def csrf_token(self, session: Session) -> str:
        return self._sign(session.key_index, f"csrf:{session.session_id}".encode())

    def check_csrf(self, session: Session, token: str) -> bool:
        return bool(token) and hmac.compare_digest(token, self.csrf_token(session))

    def seal(self, session: Session, text: str) -> str:
        """``text`` encrypted for this session only (a new key shown once after a redirect, so a
        reload never repeats the POST that made it, and the key is never in a URL)."""
        nonce = os.urandom(12)
        sealed = self._sealing[session.key_index].encrypt(nonce, text.encode(), session.session_id.encode())
        return base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode()

    def unseal(self, session: Session, token: str | None) -> str | None:
        if not token or len(token) > 1024:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            return (
                self._sealing[session.key_index]
                .decrypt(raw[:12], raw[12:], session.session_id.encode())
                .decode()
            )
        except (InvalidTag, ValueError, binascii.Error):
            return None

    def _sign(self, index: int, message: bytes) -> str:
        digest = hmac.new(self._keys[index], message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
