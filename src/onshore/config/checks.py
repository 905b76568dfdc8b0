"""Start-up checks of what the schema cannot see: the environment, the listening port, the admin token.

Each function is pure (or touches only a socket) and returns what is wrong in words an operator
can act on. None ever includes a secret's value: only the *name* of the variable that holds it.
``onshore serve``, ``/readyz`` and ``onshore backends list`` call them so a misconfiguration is
visible before the first partner gets a 502.
"""

from __future__ import annotations

import collections
import errno
import math
import socket
import string
from collections.abc import Mapping

from onshore.config.settings import BackendSettings, RemoteBackendSettings, Settings

# A token an operator makes with `openssl rand -hex 32` or `secrets.token_urlsafe(32)` passes by a
# wide margin; these floors catch the mistakes (a word, a short test value, a repeated pattern).
MIN_ADMIN_TOKEN_CHARS = 32
MIN_ADMIN_TOKEN_BITS = 128
# The letters a random token of this length actually shows: 32 random hex digits measure at least
# 90 bits this way (200,000 samples), a repeated or mostly-constant string far less.
_MIN_OBSERVED_BITS = 64
_HEX = frozenset(string.hexdigits)


def backend_problems(settings: Settings, environ: Mapping[str, str]) -> list[str]:
    """One line per backend whose configuration points at something missing in the environment.

    For start-up warnings and ``/readyz``: "backend 'gpu-pool-a': api_key_env names POOL_A_KEY,
    which is not set". Without the key the engine answers every request 401 and partners see 502.
    """
    problems = ((spec.name, backend_problem(spec, environ)) for spec in settings.backends)
    return [f"backend {name!r}: {problem}" for name, problem in problems if problem is not None]


def backend_problem(spec: BackendSettings, environ: Mapping[str, str]) -> str | None:
    """What is missing for this one backend (``onshore backends list`` shows it), or None."""
    if not isinstance(spec, RemoteBackendSettings) or not spec.api_key_env:
        return None
    value = environ.get(spec.api_key_env)
    if value is None:
        return f"api_key_env names {spec.api_key_env}, which is not set"
    if not value.strip():
        return f"api_key_env names {spec.api_key_env}, which is empty"
    return None


def port_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on, or None when it can (checked by binding it briefly).

    ``SO_REUSEADDR`` is set as uvicorn sets it, so a port left in TIME_WAIT by a previous run counts
    as free and only a socket that is really listening there counts as taken.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        return f"cannot listen on {host}:{port}: the host name does not resolve"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"cannot listen on {host}:{port}: the port is in use (another onshore serve?)"
            return f"cannot listen on {host}:{port}: {exc.strerror or type(exc).__name__}"
    return None


def admin_token_problem(token: str | None) -> str | None:
    """Why ``token`` is too weak to guard the admin API, or None when it is strong enough (or unset).

    The message names the rule, never the token. An unset token is not a problem here: it means
    the admin API is off, which is the documented default.
    """
    if token is None:
        return None
    if len(token) < MIN_ADMIN_TOKEN_CHARS:
        return f"the admin token is shorter than {MIN_ADMIN_TOKEN_CHARS} characters"
    if _alphabet_bits(token) < MIN_ADMIN_TOKEN_BITS:
        return f"the admin token holds less than {MIN_ADMIN_TOKEN_BITS} bits (use more or mixed characters)"
    if _observed_bits(token) < _MIN_OBSERVED_BITS or _is_periodic(token):
        return "the admin token repeats itself; use a random one such as `openssl rand -hex 32`"
    return None


def _alphabet_bits(token: str) -> float:
    """Length times the bits of the smallest alphabet the token is drawn from."""
    if set(token) <= _HEX and (token == token.lower() or token == token.upper()):
        size = 16
    else:
        size = sum(
            width
            for chars, width in (
                (string.ascii_lowercase, 26),
                (string.ascii_uppercase, 26),
                (string.digits, 10),
            )
            if any(c in chars for c in token)
        )
        if any(not (c.isascii() and c.isalnum()) for c in token):
            size += 32
    return len(token) * math.log2(max(size, 1))


def _observed_bits(token: str) -> float:
    """Length times the Shannon entropy of the characters the token actually contains."""
    counts = collections.Counter(token)
    n = len(token)
    return -sum(c * math.log2(c / n) for c in counts.values())


def _is_periodic(token: str) -> bool:
    """True for a short pattern repeated ('abcd1234abcd1234...')."""
    n = len(token)
    return any(token == (token[:p] * (n // p + 1))[:n] for p in range(1, n // 2 + 1))
