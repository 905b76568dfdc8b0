"""The console's small HTTP layer over ASGI: requests with cookies and forms, HTML responses.

The console is a separate face (it never runs on the inference hot path), so it can afford to parse
forms and cookies with the standard library; it shares nothing with ``api/`` but the ASGI server.
Every response carries the headers a browser needs to keep the console to itself: a strict
Content-Security-Policy (no inline script, nothing from another origin), no framing, no caching of
pages (they show keys once and money), no referrer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_FORM_BYTES = 64 * 1024  # the largest console form (a key's allow-list) is a few hundred bytes

CONSOLE_CSP = (
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    b"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# A printable document (an invoice): its own inline styles, and no script at all.
DOCUMENT_CSP = (
    b"default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; base-uri 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),  # no-referrer would make Origin "null" on our own forms
    (b"cross-origin-opener-policy", b"same-origin"),
)


class FormTooLarge(Exception):
    """A console form larger than :data:`MAX_FORM_BYTES`."""


@dataclass(slots=True)
class Request:
    scope: Scope
    receive: Receive
    headers: dict[bytes, bytes]
    _form: dict[str, list[str]] | None = field(default=None, init=False)

    @property
    def method(self) -> str:
        method: str = self.scope["method"]
        return method

    @property
    def path(self) -> str:
        path: str = self.scope["path"]
        return path

    def query(self, name: str, default: str | None = None) -> str | None:
        raw = self.scope.get("query_string", b"").decode("latin-1")
        values = parse_qs(raw, keep_blank_values=True).get(name)
        return values[-1] if values else default

    def cookie(self, name: str) -> str | None:
        raw = self.headers.get(b"cookie")
        if not raw:
            return None
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(raw.decode("latin-1"))
        except CookieError:
            return None
        morsel = jar.get(name)
        return morsel.value if morsel is not None else None

    async def form(self) -> dict[str, list[str]]:
        """The urlencoded body, read once. Raises :class:`FormTooLarge` past the limit."""
        if self._form is None:
            body = await self._body()
            self._form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        return self._form

    async def field(self, name: str) -> str:
        values = (await self.form()).get(name)
        return values[-1].strip() if values else ""

    async def fields(self, name: str) -> list[str]:
        return [v.strip() for v in (await self.form()).get(name, []) if v.strip()]

    async def _body(self) -> bytes:
        parts: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                return b""
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > MAX_FORM_BYTES:
                raise FormTooLarge
            parts.append(chunk)
            if not message.get("more_body", False):
                return b"".join(parts)


def request_from(scope: Scope, receive: Receive) -> Request:
    headers: dict[bytes, bytes] = {}
    for name, value in scope.get("headers", ()):
        headers[bytes(name).lower()] = bytes(value)
    return Request(scope, receive, headers)


@dataclass(slots=True)
class Response:
    status: int
    body: bytes
    content_type: bytes = b"text/html; charset=utf-8"
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    cache: bytes = b"no-store"
    policy: bytes = CONSOLE_CSP

    async def send(self, send: Send) -> None:
        headers = [
            (b"content-type", self.content_type),
            (b"content-length", str(len(self.body)).encode()),
            (b"cache-control", self.cache),
            (b"content-security-policy", self.policy),
            *SECURITY_HEADERS,
            *self.headers,
        ]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


def html(body: str, status: int = 200) -> Response:
    return Response(status, body.encode())


def redirect(location: str, *, cookies: tuple[str, ...] = ()) -> Response:
    """303 See Other: the browser follows with a GET, so a reload never repeats a form."""
    if not location.startswith("/dashboard"):  # never an open redirect
        location = "/dashboard"
    headers = [(b"location", location.encode())]
    headers += [(b"set-cookie", c.encode()) for c in cookies]
    return Response(303, b"", headers=headers)


def set_cookie(name: str, value: str, *, max_age: int, http_only: bool = True) -> str:
    """A cookie the console sets: path-scoped, SameSite=Strict, HttpOnly unless said otherwise.

    ``Secure`` is left to TLS termination in front of the gateway (a ``Secure`` cookie is dropped by
    browsers on plain http://127.0.0.1, which is how an operator first opens the console).
    """
    parts = [f"{name}={value}", "Path=/dashboard", f"Max-Age={max_age}", "SameSite=Strict"]
    if http_only:
        parts.append("HttpOnly")
    return "; ".join(parts)
