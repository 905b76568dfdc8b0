"""CORS for the partner API, off by default: browser apps of the origins an operator allows.

Origins are allowed globally (``cors.allow_origins``) or for one organisation (``cors.org_origins``,
organisation name → origins). A preflight carries no API key, so it is answered for an origin that is
allowed globally or for any organisation; the actual request is then checked against the caller's own
organisation, and a response to an origin allowed only for another organisation carries no CORS
headers, so the browser withholds it from the page.

The allowed origin is echoed, never ``*`` (a key-bearing request must not be readable by every site),
with ``Vary: Origin`` so a cache never serves one origin's answer to another. Only the partner API
(``/v1/…``, ``/v2/…``, ``/rerank``, ``/score``) gets CORS: the admin API, the console, health checks and
``/metrics`` never do, whatever the configuration.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from onshore.api.types import Message, Send
from onshore.config.cors import CorsSettings

_METHODS = b"GET, POST, DELETE, OPTIONS"
# What the official SDKs send: OpenAI's own headers and the SDK's ``x-stainless-*`` telemetry.
_HEADERS = frozenset(
    {
        "authorization",
        "content-type",
        "accept",
        "openai-organization",
        "openai-project",
        "openai-beta",
        "openai-version",
        "idempotency-key",
        "x-request-id",
        "x-client-request-id",
        "traceparent",
        "tracestate",
    }
)
_EXPOSE = (
    b"x-request-id, openai-processing-ms, retry-after, x-ratelimit-limit-requests, "
    b"x-ratelimit-remaining-requests, x-ratelimit-reset-requests, x-ratelimit-limit-tokens, "
    b"x-ratelimit-remaining-tokens, x-ratelimit-reset-tokens"
)
_API_PREFIXES = ("/v1/", "/v2/")
_API_PATHS = frozenset({"/rerank", "/score"})

OrgOf = Callable[[], Awaitable[str | None]]  # the caller's organisation name, if its key is valid


class Cors:
    """Decides per request; built once from the settings."""

    __slots__ = ("_any_org", "_global", "_max_age", "_orgs")

    def __init__(self, settings: CorsSettings) -> None:
        self._global = frozenset(settings.allow_origins)
        self._orgs = {org: frozenset(origins) for org, origins in settings.org_origins.items()}
        self._any_org = frozenset().union(*self._orgs.values()) if self._orgs else frozenset()
        self._max_age = str(settings.max_age_s).encode()

    @property
    def enabled(self) -> bool:
        return bool(self._global or self._any_org)

    def applies(self, path: str, origin: bytes | None) -> bool:
        return origin is not None and self.enabled and (path.startswith(_API_PREFIXES) or path in _API_PATHS)

    def preflight(self, origin: str, headers: dict[bytes, bytes]) -> list[tuple[bytes, bytes]] | None:
        """The preflight's headers, or None when this origin is allowed nowhere."""
        if origin not in self._global and origin not in self._any_org:
            return None
        asked = headers.get(b"access-control-request-headers", b"").decode("latin-1")
        allowed = [
            name
            for name in (part.strip().lower() for part in asked.split(","))
            if name in _HEADERS or name.startswith("x-stainless-")
        ]
        return [
            (b"access-control-allow-origin", origin.encode()),
            (b"access-control-allow-methods", _METHODS),
            (b"access-control-allow-headers", ", ".join(allowed or sorted(_HEADERS)).encode()),
            (b"access-control-max-age", self._max_age),
            (b"vary", b"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
        ]

    def wrap(self, send: Send, origin: str, org_of: OrgOf) -> Send:
        """``send`` with the CORS headers added to the response start (streams included)."""

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                headers.append((b"vary", b"Origin"))
                if await self._allowed(origin, org_of):
                    headers.append((b"access-control-allow-origin", origin.encode()))
                    headers.append((b"access-control-expose-headers", _EXPOSE))
                message = {**message, "headers": headers}
            await send(message)

        return with_cors

    async def _allowed(self, origin: str, org_of: OrgOf) -> bool:
        if origin in self._global:
            return True
        if origin not in self._any_org:
            return False
        org = await org_of()
        return org is not None and origin in self._orgs.get(org, frozenset())
