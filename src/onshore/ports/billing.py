"""Issued invoices (durable, in SQL): numbered, immutable, each with its audit entry.

The port has no update and no delete: an invoice, once issued, is corrected only by issuing a new
one that names it in ``corrects`` (see ``onshore.domain.invoice``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from onshore.domain.audit import AuditEntry
from onshore.domain.invoice import Invoice, Month
from onshore.ports.store import AlreadyExists


class InvoiceExists(AlreadyExists):
    """The organisation's month already has an invoice of that revision (issued by another admin
    or replica at the same time, or the corrected invoice was already corrected)."""


class InvoiceStore(Protocol):
    def issue(self, invoice: Invoice, audit_for: Callable[[Invoice], AuditEntry]) -> Invoice:
        """Number a preview (``invoice.id`` None) and store it, its lines and ``audit_for(issued)``
        in one transaction; returns the issued invoice.

        The number comes from one counter row whose lock is held until commit, so numbers are
        unique and gap-free across replicas, in commit order.

        Raises:
            InvoiceExists: the org's month already has an invoice of ``invoice.revision``, or the
                invoice ``invoice.corrects`` names is already corrected; nothing was written.
            StoreError: the database failed, or ``invoice.corrects`` names no invoice.
        """
        ...

    def get(self, invoice_id: str) -> Invoice | None:
        """The invoice, with ``superseded_by`` set when a newer one corrects it."""
        ...

    def list(self, org_id: str | None = None, month: Month | None = None) -> list[Invoice]:
        """Invoices (of ``org_id`` and ``month`` when given), newest number first."""
        ...
