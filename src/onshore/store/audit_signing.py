"""Ed25519 keys for audit checkpoints (the ``cryptography`` package): parse, sign, check.

Why Ed25519: small keys and signatures (32 and 64 bytes, easy to paste into a config or a ticket),
deterministic signatures (no random number generator to get wrong), and verifiers in every
language an auditor might use (``openssl pkeyutl -verify``, PyNaCl, Go's crypto/ed25519).

Keys are accepted as PEM (PKCS#8 private, SubjectPublicKeyInfo public), or as the raw 32 bytes in
hex or base64. A key's id is its fingerprint: the first 32 hex digits of the SHA-256 of the raw
public key. Error messages never include a key's text.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from onshore.errors import ConfigError

__all__ = [
    "Ed25519Signer",
    "key_id_of",
    "new_private_key_pem",
    "parse_private_key",
    "parse_public_key",
    "public_key_hex",
    "signature_valid",
]

_RAW_KEY_BYTES = 32


def _raw(text: str, what: str) -> bytes:
    value = text.strip()
    try:
        if len(value) == 2 * _RAW_KEY_BYTES:
            return bytes.fromhex(value)
    except ValueError:
        pass  # 64 characters of base64 are possible too
    try:
        standard = value.replace("-", "+").replace("_", "/")  # the URL-safe alphabet too
        raw = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{what} is neither PEM nor 32 bytes in hex or base64") from None
    if len(raw) != _RAW_KEY_BYTES:
        raise ConfigError(f"{what} is {len(raw)} bytes, an Ed25519 key is {_RAW_KEY_BYTES}")
    return raw


def parse_private_key(text: str | bytes, what: str = "the audit signing key") -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM (PKCS#8) or the raw 32-byte seed in hex or base64.

    Raises:
        ConfigError: ``text`` is none of these (``what`` names where it came from).
    """
    data = text.decode("ascii", "replace") if isinstance(text, bytes) else text
    if "-----BEGIN" in data:
        try:
            key = serialization.load_pem_private_key(data.encode("ascii", "replace"), password=None)
        except (ValueError, TypeError):
            raise ConfigError(f"{what} is not a readable unencrypted PEM private key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(f"{what} is a {type(key).__name__}, not an Ed25519 key")
        return key
    return Ed25519PrivateKey.from_private_bytes(_raw(data, what))


def parse_public_key(text: str, what: str = "the public key") -> Ed25519PublicKey:
    """An Ed25519 public key from PEM or the raw 32 bytes in hex or base64.

    Raises:
        ConfigError: ``text`` is none of these.
    """
    if "-----BEGIN" in text:
        try:
            key = serialization.load_pem_public_key(text.encode("ascii", "replace"))
        except (ValueError, TypeError):
            raise ConfigError(f"{what} is not a readable PEM public key") from None
        if not isinstance(key, Ed25519PublicKey):
            raise ConfigError(f"{what} is a {type(key).__name__}, not an Ed25519 key")
        return key
    return Ed25519PublicKey.from_public_bytes(_raw(text, what))


def _public_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_hex(key: Ed25519PublicKey) -> str:
    return _public_raw(key).hex()


def key_id_of(key: Ed25519PublicKey) -> str:
    """The key's fingerprint: 128 bits of SHA-256 over the raw public key, hex."""
    return hashlib.sha256(_public_raw(key)).hexdigest()[:32]


def signature_valid(key: Ed25519PublicKey, message: bytes, signature_hex: str) -> bool:
    try:
        key.verify(bytes.fromhex(signature_hex), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def new_private_key_pem() -> bytes:
    """A fresh key as unencrypted PKCS#8 PEM (what ``openssl genpkey -algorithm ed25519`` writes)."""
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class Ed25519Signer:
    """The ``CheckpointSigner`` port over one private key."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        public = key.public_key()
        self._public_key = public_key_hex(public)
        self._key_id = key_id_of(public)

    @property
    def key_id(self) -> str:
        return self._key_id

    @property
    def public_key(self) -> str:
        return self._public_key

    def verifier(self) -> Ed25519PublicKey:
        return self._key.public_key()

    def sign(self, message: bytes) -> str:
        return self._key.sign(message).hex()
