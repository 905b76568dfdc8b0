"""Operator wiring for ``onshore serve``: who may call the admin API and sign in to the console.

Kept out of ``bootstrap/__init__`` (at its size limit): the break-glass admin token, the operator
directory with its short cache, and the keys console sessions are signed with.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping

from onshore.admin.operator_auth import OperatorAuth
from onshore.bootstrap.digest_secret import load_secret, next_secrets, previous_secrets
from onshore.config.checks import admin_token_problem
from onshore.config.settings import Settings
from onshore.ports import OperatorStore

log = logging.getLogger(__name__)
_SESSION_LABEL = b"onshore console session v2"


def break_glass_token(settings: Settings, env: Mapping[str, str]) -> str | None:
    """The legacy admin token (admin.token_env), None when unset or too weak to guard anything."""
    token = env.get(settings.admin.token_env) or None
    weak = admin_token_problem(token)
    if weak is not None:
        log.error("the admin token is disabled: %s is too weak (%s)", settings.admin.token_env, weak)
        return None
    return token


def build_operator_auth(settings: Settings, env: Mapping[str, str], store: OperatorStore) -> OperatorAuth:
    token = break_glass_token(settings, env)
    return OperatorAuth(store, token, session_keys=console_session_keys(settings, env, token))


def console_session_keys(settings: Settings, env: Mapping[str, str], token: str | None) -> tuple[bytes, ...]:
    """The keys console cookies are signed with, the first signing and every one verifying.

    Derived from the key-digest secrets (every replica shares them) and the break-glass token, so
    rotating either ends every session; the next and previous secrets keep a session valid on
    replicas a step apart in a rotation. Derived one-way: no cookie reveals a secret.
    """
    extra = (token or "").encode()
    secrets_ = (load_secret(settings, env), *next_secrets(settings, env), *previous_secrets(settings, env))
    return tuple(
        hmac.new(secret, _SESSION_LABEL + b"\0" + extra, hashlib.sha256).digest() for secret in secrets_
    )
