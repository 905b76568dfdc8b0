"""What a running ``onshore serve`` reports about its backends, read through its admin API.

For listings only: every failure (nothing listening, a refused token, a slow or odd answer) is
"no answer" (None), never an error, and connecting and each read wait at most ``timeout_s``.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any

SERVER_TIMEOUT_S = 1.0
OPERATOR_TOKEN_ENV = "ONSHORE_OPERATOR_TOKEN"  # noqa: S105 - a variable's name, not its value
_MAX_ANSWER_BYTES = 4 * 1024 * 1024
# A server listening on every address is asked on loopback.
_ANY_ADDRESS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}  # noqa: S104 - addresses compared, not bound

__all__ = ["OPERATOR_TOKEN_ENV", "SERVER_TIMEOUT_S", "running_backends", "server_token", "server_url"]


def server_token(admin_token_env: str) -> str | None:
    """The token to ask the server with: an operator's (``ONSHORE_OPERATOR_TOKEN``, the production
    way; it needs ``backends:read``), else the break-glass admin token (``admin.token_env``)."""
    return os.environ.get(OPERATOR_TOKEN_ENV) or os.environ.get(admin_token_env) or None


def server_url(host: str, port: int) -> str:
    host = _ANY_ADDRESS.get(host, host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal
    return f"http://{host}:{port}"


def running_backends(
    host: str, port: int, token: str | None, *, timeout_s: float = SERVER_TIMEOUT_S
) -> dict[str, dict[str, Any]] | None:
    """The server's ``GET /admin/v1/backends?probe=false`` rows by backend name, or None.

    ``probe=false``: the server reports what its prober last saw instead of probing every backend
    again, so it answers at once even while an engine hangs (this command probes them itself).
    """
    if not token:
        return None
    request = urllib.request.Request(  # noqa: S310 - the URL is built here, always http://
        server_url(host, port) + "/admin/v1/backends?probe=false",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    # No proxy: the server is this config's own, and an http_proxy in the environment must not
    # send the token elsewhere.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout_s) as response:
            body = json.loads(response.read(_MAX_ANSWER_BYTES))
    except (OSError, ValueError):  # URLError, HTTPError and timeouts are OSErrors
        return None
    rows = body.get("data") if isinstance(body, dict) else None
    if not isinstance(rows, list):
        return None
    return {row["name"]: row for row in rows if isinstance(row, dict) and isinstance(row.get("name"), str)}
