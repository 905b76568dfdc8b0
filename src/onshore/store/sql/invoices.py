"""Issued invoices in SQL: the ``InvoiceStore`` port.

Issuing takes the next number of the ``invoices`` change-counter row (``sequences.take_next``), and
its row lock, held until commit, queues every other issuer behind this one: numbers are unique and
gap-free across replicas (a refused invoice rolls its number back) and appear in commit order.
The invoice, its lines and its audit entry commit together, or nothing does.

There is no update and no delete here; migration 0005's triggers refuse both in the database too.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, Row, func, select
from sqlalchemy.exc import IntegrityError

from onshore.domain.audit import AuditEntry
from onshore.domain.invoice import Invoice, InvoiceLine, InvoiceTotals, Issuer, Month, invoice_number
from onshore.domain.limits import micro_to_krw
from onshore.ports import InvoiceExists, StoreError
from onshore.store.sql.audit import append_entries
from onshore.store.sql.errors import is_unique_violation, translate_errors
from onshore.store.sql.idempotent import insert_ignoring_duplicates
from onshore.store.sql.limits import krw_to_micro
from onshore.store.sql.schema import audit_log, invoice_lines, invoices
from onshore.store.sql.sequences import take_next

INVOICES_SEQUENCE = "invoices"


def _max_seq(conn: Connection) -> int:
    # Seeds a missing counter row above every number in use (a schema built without migrations).
    return int(conn.execute(select(func.coalesce(func.max(invoices.c.seq), 0))).scalar_one())


class SqlInvoiceStore:
    """``InvoiceStore`` on SQLAlchemy; each method is one short transaction, safe across threads.

    Args:
        engine: From :func:`onshore.store.sql.engine.make_engine`, already migrated.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._audit_insert = insert_ignoring_duplicates(engine, audit_log)

    def issue(self, invoice: Invoice, audit_for: Callable[[Invoice], AuditEntry]) -> Invoice:
        """Number and store a preview with its lines and audit entry (see ``InvoiceStore.issue``)."""
        if invoice.id is not None:
            raise ValueError(f"invoice {invoice.id} is already issued")
        with translate_errors("issuing an invoice"), self._engine.begin() as conn:
            seq = take_next(conn, INVOICES_SEQUENCE, seed=_max_seq)
            issued = replace(invoice, id=invoice_number(invoice.month, seq), seq=seq)
            try:
                conn.execute(invoices.insert().values(**_invoice_values(issued)))
            except IntegrityError as exc:
                if is_unique_violation(exc):
                    raise InvoiceExists(_exists_message(invoice)) from exc
                raise StoreError("issuing an invoice failed: the corrected invoice does not exist") from exc
            if issued.lines:
                conn.execute(
                    invoice_lines.insert(), [_line_values(issued, n, line) for n, line in _numbered(issued)]
                )
            append_entries(conn, self._audit_insert, [audit_for(issued)])
        return issued

    def get(self, invoice_id: str) -> Invoice | None:
        with translate_errors("reading an invoice"), self._engine.connect() as conn:
            row = conn.execute(select(invoices).where(invoices.c.id == invoice_id)).first()
            return None if row is None else _read(conn, [row])[0]

    def list(self, org_id: str | None = None, month: Month | None = None) -> builtins.list[Invoice]:
        query = select(invoices).order_by(invoices.c.seq.desc())
        if org_id is not None:
            query = query.where(invoices.c.org_id == org_id)
        if month is not None:
            query = query.where(invoices.c.month == str(month))
        with translate_errors("listing invoices"), self._engine.connect() as conn:
            return _read(conn, conn.execute(query).all())


def _exists_message(invoice: Invoice) -> str:
    if invoice.corrects is not None:
        return f"invoice {invoice.corrects} has already been corrected"
    return f"{invoice.org_name} already has an invoice for {invoice.month}"


def _numbered(invoice: Invoice) -> Iterable[tuple[int, InvoiceLine]]:
    return enumerate(invoice.lines, start=1)


def _micro(krw: Decimal | None) -> int | None:
    return None if krw is None else krw_to_micro(krw)


def _krw(micro: int | None) -> Decimal | None:
    return None if micro is None else micro_to_krw(int(micro))


def _invoice_values(invoice: Invoice) -> dict[str, Any]:
    totals = invoice.totals
    return {
        "id": invoice.id,
        "seq": invoice.seq,
        "org_id": invoice.org_id,
        "org_name": invoice.org_name,
        "month": str(invoice.month),
        "revision": invoice.revision,
        "corrects": invoice.corrects,
        "issued_at": invoice.issued_at,
        "issued_by": invoice.issued_by,
        "currency": invoice.currency,
        "ledger_micro_krw": totals.ledger_micro_krw,
        "subtotal_krw": totals.subtotal_krw,
        "vat_rate": format(totals.vat_rate, "f"),
        "vat_krw": totals.vat_krw,
        "total_krw": totals.total_krw,
        "issuer": invoice.issuer.as_dict(),
    }


def _line_values(invoice: Invoice, number: int, line: InvoiceLine) -> dict[str, Any]:
    return {
        "invoice_id": invoice.id,
        "line_no": number,
        "model": line.model,
        "period_start": line.period_start,
        "period_end": line.period_end,
        "requests": line.requests,
        "input_tokens": line.input_tokens,
        "cached_tokens": line.cached_tokens,
        "output_tokens": line.output_tokens,
        "input_price_micro_krw": _micro(line.input_price_krw),
        "cached_price_micro_krw": _micro(line.cached_price_krw),
        "output_price_micro_krw": _micro(line.output_price_krw),
        "amount_micro_krw": line.amount_micro_krw,
    }


def _read(conn: Connection, rows: Sequence[Row[Any]]) -> list[Invoice]:
    """Invoices from their rows, with their lines and ``superseded_by``, in three queries."""
    ids = [row.id for row in rows]
    if not ids:
        return []
    lines: dict[str, list[InvoiceLine]] = {invoice_id: [] for invoice_id in ids}
    query = (
        select(invoice_lines)
        .where(invoice_lines.c.invoice_id.in_(ids))
        .order_by(invoice_lines.c.invoice_id, invoice_lines.c.line_no)
    )
    for line in conn.execute(query):
        lines[line.invoice_id].append(_line(line))
    newer = select(invoices.c.corrects, invoices.c.id).where(invoices.c.corrects.in_(ids))
    superseded = {str(old): str(new) for old, new in conn.execute(newer)}
    return [_invoice(row, tuple(lines[row.id]), superseded.get(row.id)) for row in rows]


def _line(row: Row[Any]) -> InvoiceLine:
    return InvoiceLine(
        model=row.model,
        period_start=_day(row.period_start),
        period_end=_day(row.period_end),
        requests=int(row.requests),
        input_tokens=int(row.input_tokens),
        cached_tokens=int(row.cached_tokens),
        output_tokens=int(row.output_tokens),
        input_price_krw=_krw(row.input_price_micro_krw),
        cached_price_krw=_krw(row.cached_price_micro_krw),
        output_price_krw=_krw(row.output_price_micro_krw),
        amount_micro_krw=int(row.amount_micro_krw),
    )


def _day(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _invoice(row: Row[Any], lines: tuple[InvoiceLine, ...], superseded_by: str | None) -> Invoice:
    subtotal = int(row.subtotal_krw)
    totals = InvoiceTotals(
        ledger_micro_krw=int(row.ledger_micro_krw),
        subtotal_krw=subtotal,
        vat_rate=Decimal(row.vat_rate),
        vat_krw=int(row.vat_krw),
        total_krw=int(row.total_krw),
        adjustment_krw=subtotal - sum(line.amount_krw for line in lines),
    )
    return Invoice(
        id=row.id,
        org_id=row.org_id,
        org_name=row.org_name,
        month=Month.parse(row.month),
        issued_at=row.issued_at,
        issued_by=row.issued_by,
        lines=lines,
        totals=totals,
        issuer=Issuer.from_dict(row.issuer or {}),
        seq=int(row.seq),
        revision=int(row.revision),
        corrects=row.corrects,
        superseded_by=superseded_by,
        currency=row.currency,
    )
