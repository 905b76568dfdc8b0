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

from onshore.services import Services
from onshore.web.http import Request, Response, html
from onshore.web.i18n import Formatter
from onshore.web.session import Session, SessionSigner

_T = TypeVar("_T")

# The pages, in the order of the navigation bar: (path, catalog key).
NAVIGATION = (
    ("/dashboard/overview", "nav.overview"),
    ("/dashboard/orgs", "nav.orgs"),
    ("/dashboard/backends", "nav.backends"),
    ("/dashboard/residency", "nav.residency"),
    ("/dashboard/audit", "nav.audit"),
    ("/dashboard/invoices", "nav.invoices"),
    ("/dashboard/capacity", "nav.capacity"),
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
    args: tuple[str, ...] = field(default_factory=tuple)

    @property
    def actor(self) -> str:
        return self.session.actor

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        return html(
            render_page(template, self.fmt, csrf=self.csrf, path=self.request.path, **context), status
        )

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
        **context,
    )
