"""Console sessions: a signed cookie any replica can check, and the CSRF token bound to it.

Why stateless: the console is served by every gateway replica behind a load balancer, so a session
must be verifiable without a shared session table. The signing key is derived from the admin token
(HMAC-SHA256 with a fixed label), so

- rotating the admin token logs every console session out at once, on every replica;
- the cookie never contains the token, and the token cannot be recovered from a cookie or a CSRF
  token (both are HMAC outputs under a key derived one-way from it).

The cookie is ``<session id>.<expiry, unix seconds>.<signature>``; the CSRF token is a second HMAC
of the session id, so a form posted from another site (which cannot read the page) cannot carry it,
and a token from one session is worthless in another.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SESSION_COOKIE = "onshore_console"
FLASH_COOKIE = "onshore_flash"  # a new key, sealed, on its way from the POST to the page after it
FLASH_TTL_S = 120
SESSION_TTL_S = 8 * 3600  # a working day; the operator logs in again the next morning
_LABEL = b"onshore console session v1"


@dataclass(frozen=True, slots=True)
class Session:
    session_id: str
    expires_at: int

    @property
    def actor(self) -> str:
        """The audit trail's name for changes made in the console."""
        return "console"


class SessionSigner:
    def __init__(self, admin_token: str):
        self._key = hmac.new(admin_token.encode(), _LABEL, hashlib.sha256).digest()
        self._sealing = AESGCM(hmac.new(self._key, b"flash", hashlib.sha256).digest())

    def issue(self, now: float) -> tuple[Session, str]:
        """A new session and its cookie value."""
        session = Session(secrets.token_urlsafe(18), int(now) + SESSION_TTL_S)
        payload = f"{session.session_id}.{session.expires_at}"
        return session, f"{payload}.{self._sign(b'session:' + payload.encode())}"

    def verify(self, cookie: str | None, now: float) -> Session | None:
        """The session a cookie proves, or None (absent, forged, tampered with or expired)."""
        if not cookie or len(cookie) > 200:
            return None
        parts = cookie.split(".")
        if len(parts) != 3 or not parts[1].isdigit():
            return None
        session_id, expiry, signature = parts
        expected = self._sign(f"session:{session_id}.{expiry}".encode())
        if not hmac.compare_digest(signature, expected):
            return None
        if int(expiry) <= now:
            return None
        return Session(session_id, int(expiry))

    def csrf_token(self, session: Session) -> str:
        return self._sign(f"csrf:{session.session_id}".encode())

    def check_csrf(self, session: Session, token: str) -> bool:
        return bool(token) and hmac.compare_digest(token, self.csrf_token(session))

    def seal(self, session: Session, text: str) -> str:
        """``text`` encrypted for this session only (a new key shown once after a redirect, so a
        reload never repeats the POST that made it, and the key is never in a URL)."""
        nonce = os.urandom(12)
        sealed = self._sealing.encrypt(nonce, text.encode(), session.session_id.encode())
        return base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode()

    def unseal(self, session: Session, token: str | None) -> str | None:
        if not token or len(token) > 1024:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            return self._sealing.decrypt(raw[:12], raw[12:], session.session_id.encode()).decode()
        except (InvalidTag, ValueError, binascii.Error):
            return None

    def _sign(self, message: bytes) -> str:
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
