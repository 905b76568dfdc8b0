"""Pages from Jinja2 templates that escape everything by default, in the user's language."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar

import orjson
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from onshore.domain.operators import Caller
from onshore.services import Services
from onshore.web.http import Request, Response, html
from onshore.web.i18n import Formatter
from onshore.web.session import Session, SessionSigner

_T = TypeVar("_T")

# The pages, in the order of the navigation bar: (path, catalog key, the permission it needs).
NAVIGATION = (
    ("/dashboard/overview", "nav.overview", "orgs:read"),
    ("/dashboard/orgs", "nav.orgs", "orgs:read"),
    ("/dashboard/backends", "nav.backends", "backends:read"),
    ("/dashboard/residency", "nav.residency", "residency:read"),
    ("/dashboard/audit", "nav.audit", "audit:read"),
    ("/dashboard/invoices", "nav.invoices", "invoices:read"),
    ("/dashboard/capacity", "nav.capacity", "usage:read"),
)


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("onshore.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,  # a misspelt variable is an error in the tests, not a blank
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["json_data"] = _json_data
    return env


def _json_data(value: Any) -> Markup:
    """Data for the page's script, in a ``<script type="application/json">`` block.

    orjson escapes nothing HTML cares about, so ``<`` ``>`` ``&`` become \\u escapes here: a value
    such as an organisation named ``</script><script>…`` cannot end the block.
    """
    text = orjson.dumps(value).decode()
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)  # noqa: S704 - orjson output with <, > and & escaped above


@dataclass(slots=True)
class View:
    """One signed-in request as a page handler sees it."""

    services: Services
    request: Request
    session: Session
    fmt: Formatter
    csrf: str
    signer: SessionSigner
    caller: Caller
    args: tuple[str, ...] = field(default_factory=tuple)

    @property
    def actor(self) -> str:
        """The audit trail's name for what this operator changes: ``operator:<name>``."""
        return self.caller.actor

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        page = render_page(
            template, self.fmt, csrf=self.csrf, path=self.request.path, may=self.caller.may, **context
        )
        return html(page, status)

    def seal(self, text: str) -> str:
        return self.signer.seal(self.session, text)

    def unseal(self, token: str | None) -> str | None:
        return self.signer.unseal(self.session, token)

    async def run(self, action: Callable[[], _T]) -> _T:
        """A store call off the event loop (the SQL adapters are synchronous)."""
        return await asyncio.to_thread(action)


def render_page(template: str, fmt: Formatter, *, csrf: str | None, path: str, **context: Any) -> str:
    page = environment().get_template(template)
    return page.render(
        t=fmt.t,
        fmt=fmt,
        lang=fmt.lang,
        csrf=csrf,
        signed_in=csrf is not None,
        path=path,
        navigation=NAVIGATION,
        **{"may": _may_all, **context},
    )


def _may_all(_permission: str) -> bool:
    # Pages rendered without an operator (login, errors) show no forms that need one anyway.
    return True
