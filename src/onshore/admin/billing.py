"""Monthly invoices: preview, issue (numbered, immutable, audited), correct, list and read.

Shared by the CLI (``onshore invoices``), the admin API (``/admin/v1/invoices``) and the console.
Each function takes the store's ports (``services.Store`` has them all) and the settings (the VAT
rate, the issuer and the config file's prices)::

    invoice = create_invoice(services.store, "acme", "2026-11", actor="operator:alice",
                             settings=services.settings)
    html = render_html(invoice, lang="ko")          # onshore.admin.invoice_render

What an invoice holds and how it is rounded: ``onshore.domain.invoice`` and docs/invoices.md.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from onshore.admin.prices import prices_from_settings
from onshore.admin.tenancy import require_org
from onshore.config.settings import Settings
from onshore.domain.audit import AuditEntry
from onshore.domain.invoice import Invoice, Issuer, Month, build_invoice
from onshore.domain.limits import PriceBook
from onshore.errors import Conflict, InvalidRequest, NotFound
from onshore.ports import InvoiceExists, InvoiceStore, LimitsStore, TenancyStore, UsageReader

__all__ = [
    "BillingStore",
    "create_invoice",
    "get_invoice",
    "issuer_from_settings",
    "list_invoices",
    "parse_month",
    "preview_invoice",
]


class BillingStore(Protocol):
    """The ports invoicing needs; ``onshore.services.Store`` is one."""

    @property
    def tenancy(self) -> TenancyStore: ...
    @property
    def usage(self) -> UsageReader: ...
    @property
    def limits(self) -> LimitsStore: ...
    @property
    def invoices(self) -> InvoiceStore: ...


def parse_month(month: Month | str) -> Month:
    """A ``Month`` from ``YYYY-MM``.

    Raises:
        InvalidRequest: not a month (``param`` is ``month``).
    """
    if isinstance(month, Month):
        return month
    try:
        return Month.parse(month)
    except (ValueError, TypeError):
        raise InvalidRequest(f"invalid month {month!r}: use YYYY-MM, e.g. 2026-11", param="month") from None


def issuer_from_settings(settings: Settings) -> Issuer:
    billing = settings.billing
    return Issuer(
        name=billing.issuer_name,
        business_registration_number=billing.business_registration_number,
        representative=billing.representative,
        address=billing.address,
        contact=billing.contact,
    )


def preview_invoice(
    store: BillingStore,
    org_name: str,
    month: Month | str,
    *,
    settings: Settings,
    corrects: str | None = None,
    actor: str = "preview",
    now: datetime | None = None,
) -> Invoice:
    """What ``create_invoice`` would issue now, computed but not stored (``id`` is None). Any month
    may be previewed, the current one included: its figures grow until the month is over.

    Raises:
        InvalidRequest: a bad month, or ``corrects`` names another org's or month's invoice.
        NotFound: no such organisation, or no invoice ``corrects``.
        Conflict: ``corrects`` names an invoice already corrected (``invoice_superseded``).
    """
    billed = parse_month(month)
    org = require_org(store.tenancy, org_name)
    old = None if corrects is None else _correctable(store.invoices, corrects, org.id, billed)
    book = PriceBook([*prices_from_settings(settings.prices), *store.limits.list_prices()])
    return build_invoice(
        org_id=org.id,
        org_name=org.name,
        month=billed,
        days=store.usage.usage_days(org.id, billed.start, billed.end),
        book=book,
        vat_rate=settings.billing.vat_rate,
        issued_at=now or datetime.now(UTC),
        issued_by=actor,
        issuer=issuer_from_settings(settings),
        corrects=old,
    )


def create_invoice(
    store: BillingStore,
    org_name: str,
    month: Month | str,
    *,
    actor: str,
    settings: Settings,
    corrects: str | None = None,
    now: datetime | None = None,
) -> Invoice:
    """Issue the organisation's invoice for ``month``: numbered, stored with its audit entry
    (``invoices.create``) in one transaction, never changed afterwards.

    The month must be over (UTC) for ``billing.settle_minutes``, so every replica's ledger buffer
    has flushed. Without ``corrects`` the month must have no invoice yet; with it, ``corrects``
    names the month's current invoice, which the new one then supersedes.

    Raises:
        InvalidRequest: a bad month, a month not over yet (``month_not_closed``), or ``corrects``
            names another org's or month's invoice.
        NotFound: no such organisation, or no invoice ``corrects``.
        Conflict: the month already has an invoice (``invoice_exists``), or ``corrects`` names one
            already corrected (``invoice_superseded``).
    """
    moment = now or datetime.now(UTC)
    billed = parse_month(month)
    require_org(store.tenancy, org_name)  # an unknown organisation is named before the month
    closes = billed.end + timedelta(minutes=settings.billing.settle_minutes)
    if moment < closes:
        raise InvalidRequest(
            f"{billed} cannot be invoiced before {closes:%Y-%m-%d %H:%M} UTC (the month must be over"
            " and its ledger settled); preview it instead",
            param="month",
            code="month_not_closed",
        )
    invoice = preview_invoice(
        store, org_name, billed, settings=settings, corrects=corrects, actor=actor, now=moment
    )
    if corrects is None:
        existing = store.invoices.list(invoice.org_id, billed)
        if existing:
            raise _exists(invoice, existing)
    try:
        return store.invoices.issue(invoice, _audit_entry)
    except InvoiceExists as exc:
        raise Conflict(str(exc), param="corrects" if corrects else "month", code="invoice_exists") from None


def list_invoices(store: BillingStore, org_name: str | None = None) -> list[Invoice]:
    """Every invoice (of ``org_name`` when given), newest number first.

    Raises:
        NotFound: no organisation ``org_name``.
    """
    org_id = None if org_name is None else require_org(store.tenancy, org_name).id
    return store.invoices.list(org_id)


def get_invoice(store: BillingStore, invoice_id: str) -> Invoice:
    """Raises ``NotFound`` (``invoice_not_found``) when there is no such invoice."""
    invoice = store.invoices.get(invoice_id) if _plausible_id(invoice_id) else None
    if invoice is None:
        raise NotFound(f"no invoice {invoice_id!r}", param="id", code="invoice_not_found")
    return invoice


def _plausible_id(invoice_id: str) -> bool:
    return isinstance(invoice_id, str) and 0 < len(invoice_id) <= 32 and invoice_id.isprintable()


def _correctable(invoices: InvoiceStore, invoice_id: str, org_id: str, month: Month) -> Invoice:
    old = invoices.get(invoice_id) if _plausible_id(invoice_id) else None
    if old is None:
        raise NotFound(f"no invoice {invoice_id!r} to correct", param="corrects", code="invoice_not_found")
    if old.org_id != org_id or old.month != month:
        raise InvalidRequest(
            f"invoice {old.id} bills {old.org_name} for {old.month}; a correction bills the same"
            " organisation and month",
            param="corrects",
        )
    if old.superseded_by is not None:
        raise Conflict(
            f"invoice {old.id} is already corrected by {old.superseded_by}; correct that one instead",
            param="corrects",
            code="invoice_superseded",
        )
    return old


def _exists(invoice: Invoice, existing: list[Invoice]) -> Conflict:
    # The one to correct is the month's current invoice: the one nothing supersedes yet.
    target = next((i.id for i in existing if i.superseded_by is None), existing[0].id)
    return Conflict(
        f"{invoice.org_name} already has invoice {target} for {invoice.month}; issue a correction"
        f" with corrects={target}",
        param="month",
        code="invoice_exists",
    )


def _audit_entry(invoice: Invoice) -> AuditEntry:
    totals = invoice.totals
    return AuditEntry.create(
        actor=invoice.issued_by,
        action="invoices.create",
        target_type="invoice",
        target_id=invoice.id,
        org_id=invoice.org_id,
        at=invoice.issued_at,
        detail={
            "month": str(invoice.month),
            "corrects": invoice.corrects,
            "lines": len(invoice.lines),
            "ledger_micro_krw": totals.ledger_micro_krw,
            "subtotal_krw": totals.subtotal_krw,
            "vat_rate": format(totals.vat_rate, "f"),
            "vat_krw": totals.vat_krw,
            "total_krw": totals.total_krw,
        },
    )
