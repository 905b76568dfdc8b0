"""Partner keys: how they are made and how they are recognised, without ever storing them."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from onshore.domain.tenancy import KEY_PREFIX

_SECRET_BYTES = 32  # 256 bits of entropy in every key
_SHOWN_PREFIX = len(KEY_PREFIX) + 6


class KeyDigester:
    """HMAC-SHA256 with a server secret: a leaked table cannot be brute-forced offline.

    ``previous`` are secrets that were current before (``security.previous_secrets_env``): a key
    whose digest was made with one of them is still recognised (``older_digests``, tried only when
    the current digest is unknown) and re-hashed with the current secret on use. ``upcoming`` is
    the secret about to become current (``security.next_secret_env``, the first step of a
    rotation): recognised the same way, but a key hashed with it is left as it is, so replicas one
    step apart in a rolling rotation never re-hash a key back and forth.

    ``secret_id`` names the secret's generation in the key table (``api_keys.secret_id``), so
    ``onshore keys rehash-status`` can count the keys still hashed with an old one. It is the first
    48 bits of an HMAC of a fixed label under the secret: it lets no one test a guessed secret that
    a partner could not already test with their own key and its stored digest.
    """

    __slots__ = ("_others", "_previous", "_secret", "secret_id", "upcoming_ids")

    def __init__(self, secret: bytes, previous: tuple[bytes, ...] = (), upcoming: tuple[bytes, ...] = ()):
        for value in (secret, *previous, *upcoming):
            if len(value) < 16:
                raise ValueError("the key-digest secret must be at least 16 bytes")
        self._secret = secret
        self.secret_id = secret_fingerprint(secret)
        self._previous = tuple(KeyDigester(old) for old in previous if old != secret)
        coming = tuple(KeyDigester(new) for new in upcoming if new != secret and new not in previous)
        self.upcoming_ids = frozenset(new.secret_id for new in coming)
        self._others = coming + self._previous

    def digest(self, key: str) -> str:
        return hmac.new(self._secret, key.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()

    @property
    def previous_ids(self) -> tuple[str, ...]:
        return tuple(old.secret_id for old in self._previous)

    def older_digests(self, key: str) -> list[tuple[str, str]]:
        """(digest, secret id) of ``key`` under the upcoming and each previous secret, newest first."""
        return [(other.digest(key), other.secret_id) for other in self._others]


def secret_fingerprint(secret: bytes) -> str:
    return hmac.new(secret, b"onshore key-digest secret generation", hashlib.sha256).hexdigest()[:12]


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
