"""Invoices: the list, a preview of any month (the current one included), issuing a closed month,
a correction of an issued invoice, and each invoice's printable A4 document."""

from __future__ import annotations

from datetime import UTC, datetime

from onshore.admin import billing
from onshore.admin.invoice_render import invoice_status, render_html
from onshore.web.http import DOCUMENT_CSP, Response, redirect
from onshore.web.render import View


async def list_page(view: View) -> Response:
    store = view.services.store
    org_name = view.request.query("org") or None
    orgs = await view.run(store.tenancy.list_orgs)
    invoices = await view.run(lambda: billing.list_invoices(store, org_name))
    return view.render(
        "invoices.html",
        invoices=[(invoice, invoice_status(invoice)) for invoice in invoices],
        orgs=orgs,
        org_name=org_name or "",
        this_month=f"{datetime.now(UTC):%Y-%m}",
        done=view.request.query("done"),
    )


async def preview(view: View) -> Response:
    """What the month's invoice holds now, computed and not issued: a document marked as a preview."""
    org_name, month = await view.request.field("org"), await view.request.field("month")
    store, settings = view.services.store, view.services.settings
    invoice = await view.run(lambda: billing.preview_invoice(store, org_name, month, settings=settings))
    return _document(render_html(invoice, view.fmt.lang))


async def issue(view: View) -> Response:
    org_name, month = await view.request.field("org"), await view.request.field("month")
    corrects = await view.request.field("corrects") or None
    store, settings = view.services.store, view.services.settings
    invoice = await view.run(
        lambda: billing.create_invoice(
            store, org_name, month, actor=view.actor, settings=settings, corrects=corrects
        )
    )
    return redirect(f"/dashboard/invoices/{invoice.id}?done=invoice_created")


async def show(view: View) -> Response:
    store = view.services.store
    invoice = await view.run(lambda: billing.get_invoice(store, view.args[0]))
    return view.render(
        "invoice.html", invoice=invoice, state=invoice_status(invoice), done=view.request.query("done")
    )


async def document(view: View) -> Response:
    store = view.services.store
    invoice = await view.run(lambda: billing.get_invoice(store, view.args[0]))
    return _document(render_html(invoice, view.request.query("lang") or view.fmt.lang))


def _document(page: str) -> Response:
    return Response(200, page.encode(), policy=DOCUMENT_CSP)
