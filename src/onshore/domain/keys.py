"""Partner keys: how they are made and how they are recognised, without ever storing them."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from onshore.domain.tenancy import KEY_PREFIX

_SECRET_BYTES = 32  # 256 bits of entropy in every key
_SHOWN_PREFIX = len(KEY_PREFIX) + 6


class KeyDigester:
    """HMAC-SHA256 with a server secret: a leaked table cannot be brute-forced offline."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes):
        if len(secret) < 16:
            raise ValueError("the key-digest secret must be at least 16 bytes")
        self._secret = secret

    def digest(self, key: str) -> str:
        return hmac.new(self._secret, key.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def new_key_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(_SECRET_BYTES)


def new_key_id() -> str:
    return "key_" + secrets.token_hex(8)


def new_org_id() -> str:
    return "org_" + secrets.token_hex(8)


def shown_prefix(key: str) -> str:
    """What listings show of a key: enough to tell keys apart, useless to an attacker."""
    return key[:_SHOWN_PREFIX]


def looks_like_key(value: str) -> bool:
    return value.startswith(KEY_PREFIX) and 16 < len(value) < 200
