"""``/dashboard``: the operator's console, a face beside the API and the CLI calling ``admin/``.

Nothing but the login page and the static files answers without a session. Every change is a POST
that must carry the session's CSRF token (and, where the browser sends one, an ``Origin`` of this
host): a page of another site can neither read the token nor post with the SameSite=Strict cookie.
An operator token (or the break-glass admin token) is asked for once, at login, and never appears
again: not in a page, a URL, a cookie or a log (the cookie carries a signed session naming the
token's id). Every page declares the permission it needs (``web/pages``); an operator whose role
lacks it gets 403, and a revoked or expired token ends its sessions within a second.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from onshore.domain.operators import Caller
from onshore.errors import AuthenticationFailed, OnshoreError
from onshore.services import Services
from onshore.web import static
from onshore.web.http import (
    FormTooLarge,
    Receive,
    Request,
    Response,
    Scope,
    Send,
    html,
    redirect,
    request_from,
)
from onshore.web.http import set_cookie as cookie_header
from onshore.web.i18n import LANG_COOKIE, LANGUAGES, Formatter, choose_language
from onshore.web.pages import ROUTES
from onshore.web.render import View, render_page
from onshore.web.session import SESSION_COOKIE, SESSION_TTL_S, Session, SessionSigner

log = logging.getLogger("onshore.web")

PREFIX = "/dashboard"
_FAILED_LOGIN_DELAY_S = 0.5  # slows guessing; the token's own strength is what really protects it
_YEAR_S = 365 * 24 * 3600

Handler = Callable[[View], Awaitable[Response]]


class Console:
    def __init__(self, services: Services):
        self.services = services
        operators = services.operators
        keys = operators.session_keys if operators is not None else ()
        self._signer = SessionSigner(keys) if keys else None
        self._routes = [
            (method, re.compile(pattern), handler, need) for method, pattern, handler, need in ROUTES
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = request_from(scope, receive)
        lang = choose_language(request.cookie(LANG_COOKIE), request.headers.get(b"accept-language"))
        fmt = Formatter(lang, self.services.settings.admin.console_timezone)
        try:
            response = await self._respond(request, fmt)
        except FormTooLarge:
            response = _error_page(fmt, 413, fmt.t("error.too_large"))
        except OnshoreError as exc:  # messages of the error tree are written for the person asking
            response = _error_page(fmt, exc.status, exc.message)
        except Exception:
            log.exception("console page failed")
            response = _error_page(fmt, 500, fmt.t("error.internal"))
        await response.send(send)

    async def _respond(self, request: Request, fmt: Formatter) -> Response:
        path = request.path.rstrip("/") or PREFIX
        if path.startswith(PREFIX + "/static/"):
            return static.serve(path[len(PREFIX + "/static/") :])
        if path == PREFIX + "/login":
            return await self._login(request, fmt)
        if path == PREFIX + "/lang" and request.method == "POST":
            return await self._language(request)
        session = self._signer.verify(request.cookie(SESSION_COOKIE), time.time()) if self._signer else None
        operators = self.services.operators
        caller = None
        if session is not None and operators is not None:
            caller = await operators.by_token_id(session.token_id)  # None once revoked or expired
        if session is None or caller is None:
            if request.method == "GET":
                return redirect(PREFIX + "/login")
            return _error_page(fmt, 401, fmt.t("error.signed_out"))
        return await self._signed_in(request, fmt, session, caller, path)

    async def _signed_in(
        self, request: Request, fmt: Formatter, session: Session, caller: Caller, path: str
    ) -> Response:
        assert self._signer is not None  # a session was verified with it
        csrf = self._signer.csrf_token(session)
        if request.method == "POST":
            if not _same_origin(request) or not self._signer.check_csrf(session, await request.field("csrf")):
                return _error_page(fmt, 403, fmt.t("error.csrf"))
            if path == PREFIX + "/logout":
                return redirect(PREFIX + "/login", cookies=(cookie_header(SESSION_COOKIE, "", max_age=0),))
        if path == PREFIX:
            return redirect(PREFIX + "/overview")
        for method, pattern, handler, need in self._routes:
            match = pattern.fullmatch(path[len(PREFIX) :])
            if match is not None and (
                request.method == method or (method, request.method) == ("GET", "HEAD")
            ):
                if not caller.may(need):
                    message = fmt.t("error.permission", permission=need)
                    return _error_page(fmt, 403, message, signed_in=True, csrf=csrf)
                return await handler(
                    View(self.services, request, session, fmt, csrf, self._signer, caller, match.groups())
                )
        return _error_page(fmt, 404, fmt.t("error.not_found"), signed_in=True, csrf=csrf)

    async def _login(self, request: Request, fmt: Formatter) -> Response:
        disabled = self._signer is None
        if request.method == "GET":
            return html(
                render_page("login.html", fmt, csrf=None, path=request.path, failed=False, disabled=disabled)
            )
        if request.method != "POST":
            return _error_page(fmt, 405, fmt.t("error.not_found"))
        if not _same_origin(request):
            return _error_page(fmt, 403, fmt.t("error.csrf"))
        caller = await self._authenticate(await request.field("token"))
        if self._signer is None or caller is None:
            await asyncio.sleep(_FAILED_LOGIN_DELAY_S)
            log.warning("console login refused")  # never what was typed
            page = render_page(
                "login.html", fmt, csrf=None, path=request.path, failed=True, disabled=disabled
            )
            return html(page, 401)
        _, value = self._signer.issue(time.time(), caller.token_id)
        log.info("console login by operator %s", caller.name)
        secure = _is_https(request)
        cookie = cookie_header(SESSION_COOKIE, value, max_age=SESSION_TTL_S) + ("; Secure" if secure else "")
        return redirect(PREFIX + "/overview", cookies=(cookie,))

    async def _authenticate(self, token: str) -> Caller | None:
        operators = self.services.operators
        if operators is None or not token:
            return None
        try:
            return await operators.authenticate(token.strip())
        except AuthenticationFailed:
            return None

    async def _language(self, request: Request) -> Response:
        """Switching language changes only a cookie of the user's own, so it needs no session."""
        if not _same_origin(request):
            return redirect(PREFIX)
        lang = await request.field("lang")
        back = await request.field("next")
        if lang not in LANGUAGES:
            lang = "ko"
        return redirect(back or PREFIX, cookies=(cookie_header(LANG_COOKIE, lang, max_age=_YEAR_S),))


def _same_origin(request: Request) -> bool:
    """A browser's ``Origin`` (or ``Referer``) must name this host; a non-browser client sends none."""
    host = request.headers.get(b"host", b"").decode("latin-1")
    for header in (b"origin", b"referer"):
        value = request.headers.get(header)
        if value:
            if value == b"null":
                return False
            return urlsplit(value.decode("latin-1")).netloc == host
    return True


def _is_https(request: Request) -> bool:
    if request.scope.get("scheme") == "https":
        return True
    return request.headers.get(b"x-forwarded-proto", b"").lower() == b"https"


def _error_page(
    fmt: Formatter, status: int, message: str, *, signed_in: bool = False, csrf: str | None = None
) -> Response:
    page = render_page(
        "error.html", fmt, csrf=csrf if signed_in else None, path=PREFIX, status=status, message=message
    )
    return html(page, status)
