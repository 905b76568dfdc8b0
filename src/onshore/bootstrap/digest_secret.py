"""The key-digest secret: the current one, the previous ones still accepted during a rotation, and
the next one (accepted before it becomes current).

docs/operators.md has the procedure: give every replica the new secret as the *next* one first,
then make it current with the old one as previous; keys are re-hashed on use, and
``onshore keys rehash-status`` says when the old secret can go.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping

from onshore.config.settings import Settings
from onshore.domain.keys import KeyDigester
from onshore.errors import ConfigError

_SECRET_FILE = "secret.key"  # noqa: S105 - a file name, not a secret


def load_secret(settings: Settings, environ: Mapping[str, str] | None = None) -> bytes:
    """The HMAC secret for key digests: from the environment, else a file made once in data_dir."""
    from onshore.bootstrap import _ensure_data_dir  # noqa: PLC0415 - avoids an import cycle

    env = os.environ if environ is None else environ
    value = env.get(settings.security.secret_env)
    if value:
        if len(value) < 16:
            raise ConfigError(f"{settings.security.secret_env} must be at least 16 characters")
        return value.encode()
    path = settings.data_dir / _SECRET_FILE
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    _ensure_data_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_hex(32).encode())
    return path.read_bytes().strip()


def previous_secrets(settings: Settings, environ: Mapping[str, str] | None = None) -> tuple[bytes, ...]:
    """The secrets of ``security.previous_secrets_env`` (comma-separated), newest first."""
    return _listed(settings.security.previous_secrets_env, os.environ if environ is None else environ)


def next_secrets(settings: Settings, environ: Mapping[str, str] | None = None) -> tuple[bytes, ...]:
    """The secret of ``security.next_secret_env`` (none, or one)."""
    return _listed(settings.security.next_secret_env, os.environ if environ is None else environ)[:1]


def _listed(name: str, env: Mapping[str, str]) -> tuple[bytes, ...]:
    values = tuple(v.strip() for v in env.get(name, "").split(",") if v.strip())
    for value in values:
        if len(value) < 16:
            raise ConfigError(f"every secret in {name} must be at least 16 characters")
    return tuple(v.encode() for v in values)


def build_digester(settings: Settings, environ: Mapping[str, str] | None = None) -> KeyDigester:
    current = load_secret(settings, environ)
    return KeyDigester(current, previous_secrets(settings, environ), next_secrets(settings, environ))
