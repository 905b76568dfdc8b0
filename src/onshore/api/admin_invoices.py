"""``/admin/v1/invoices``: list, issue (or preview) and read monthly invoices.

The same operations as ``onshore invoices`` (``onshore.admin.billing``). ``GET
/admin/v1/invoices/{id}`` answers JSON, or with ``?format=html`` the printable page (``&lang=ko|en``)
and with ``?format=csv`` the CSV, as ``onshore invoices show --format`` writes them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from onshore.admin import billing
from onshore.admin.invoice_render import FORMATS, LANGS, invoice_json, render_csv, render_html
from onshore.errors import InvalidRequest

if TYPE_CHECKING:
    from onshore.api.admin_routes import AdminRequest

_T = TypeVar("_T")
_BODY_FIELDS = frozenset({"org", "month", "corrects", "preview"})


@dataclass(frozen=True, slots=True)
class RawReply:
    """A reply that is not JSON: ``dispatch`` sends the bytes with their content type."""

    body: bytes
    content_type: bytes


async def _run(action: Callable[[], _T]) -> _T:
    return await asyncio.to_thread(action)


async def list_invoices(req: AdminRequest) -> tuple[int, Any]:
    org = req.query.get("org")
    found = await _run(lambda: billing.list_invoices(req.services.store, org))
    return 200, {"object": "list", "data": [invoice_json(i) for i in found]}


async def create_invoice(req: AdminRequest) -> tuple[int, Any]:
    """201 with the issued invoice; 200 with a computed one when ``preview`` is true."""
    data = await req.json()
    unknown = sorted(set(data) - _BODY_FIELDS)
    if unknown:
        raise InvalidRequest(f"unknown field {unknown[0]!r}", param=unknown[0])
    org, month = _text(data.get("org"), "org"), _text(data.get("month"), "month")
    corrects = data.get("corrects")
    if corrects is not None:
        corrects = _text(corrects, "corrects")
    preview = data.get("preview", False)
    if not isinstance(preview, bool):
        raise InvalidRequest("'preview' must be true or false.", param="preview")
    services = req.services
    if preview:
        invoice = await _run(
            lambda: billing.preview_invoice(
                services.store, org, month, settings=services.settings, corrects=corrects
            )
        )
        return 200, invoice_json(invoice)
    invoice = await _run(
        lambda: billing.create_invoice(
            services.store, org, month, actor=req.actor, settings=services.settings, corrects=corrects
        )
    )
    return 201, invoice_json(invoice)


async def get_invoice(req: AdminRequest) -> tuple[int, Any]:
    fmt = req.query.get("format", "json")
    if fmt not in FORMATS:
        raise InvalidRequest(f"format must be one of {', '.join(FORMATS)}", param="format")
    lang = req.query.get("lang", "ko")
    if lang not in LANGS:
        raise InvalidRequest(f"lang must be one of {', '.join(LANGS)}", param="lang")
    invoice = await _run(lambda: billing.get_invoice(req.services.store, req.args[0]))
    if fmt == "html":
        return 200, RawReply(render_html(invoice, lang).encode(), b"text/html; charset=utf-8")
    if fmt == "csv":
        return 200, RawReply(render_csv(invoice).encode(), b"text/csv; charset=utf-8")
    return 200, invoice_json(invoice)


def _text(value: object, param: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"'{param}' is required and must be a string.", param=param)
    return value
