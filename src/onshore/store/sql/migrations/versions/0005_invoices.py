"""Invoices: issued monthly invoices in KRW and their lines, immutable once written.

Expand only: two new tables and a change-counter row; nothing the previous release reads or
writes changes, so it keeps running beside this one while they roll.

- ``invoices``: one row per issued invoice, numbered from the ``invoices`` change-counter row.
- ``invoice_lines``: one row per model and price period of an invoice.
- Triggers that refuse UPDATE and DELETE of either table (PostgreSQL: one plpgsql function; SQLite:
  ``RAISE(ABORT)``), so an issued invoice cannot be changed by hand either. ``DROP TABLE`` (this
  migration's downgrade) and PostgreSQL's ``TRUNCATE`` (tests, and the table owner only) still work.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("invoices", "invoice_lines")

# Frozen here (not imported): a migration's result must never change with later code.
_PG_FUNCTION = """
CREATE FUNCTION onshore_refuse_invoice_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'issued invoices are immutable (% on %)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END
$$
"""
_PG_TRIGGER = (
    "CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
    "FOR EACH ROW EXECUTE FUNCTION onshore_refuse_invoice_change()"
)
_SQLITE_TRIGGER = (
    "CREATE TRIGGER {table}_no_{op} BEFORE {OP} ON {table} "
    "BEGIN SELECT RAISE(ABORT, 'issued invoices are immutable'); END"
)


def upgrade() -> None:
    op.create_table(
        "invoices",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("org_id", sa.String(), nullable=False),
        sa.Column("org_name", sa.String(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("corrects", sa.String(length=32), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_by", sa.String(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("ledger_micro_krw", sa.BigInteger(), nullable=False),
        sa.Column("subtotal_krw", sa.BigInteger(), nullable=False),
        sa.Column("vat_rate", sa.String(length=16), nullable=False),
        sa.Column("vat_krw", sa.BigInteger(), nullable=False),
        sa.Column("total_krw", sa.BigInteger(), nullable=False),
        sa.Column("issuer", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["corrects"], ["invoices.id"], name=op.f("fk_invoices_corrects_invoices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("corrects", name=op.f("uq_invoices_corrects")),
        sa.UniqueConstraint("org_id", "month", "revision", name="uq_invoices_org_id_month_revision"),
        sa.UniqueConstraint("seq", name=op.f("uq_invoices_seq")),
    )
    op.create_table(
        "invoice_lines",
        sa.Column("invoice_id", sa.String(length=32), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cached_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("input_price_micro_krw", sa.BigInteger(), nullable=True),
        sa.Column("cached_price_micro_krw", sa.BigInteger(), nullable=True),
        sa.Column("output_price_micro_krw", sa.BigInteger(), nullable=True),
        sa.Column("amount_micro_krw", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_invoice_lines_invoice_id_invoices")
        ),
        sa.PrimaryKeyConstraint("invoice_id", "line_no", name=op.f("pk_invoice_lines")),
    )
    if op.get_context().dialect.name == "postgresql":
        op.execute(sa.text(_PG_FUNCTION))
        for table in _TABLES:
            op.execute(sa.text(_PG_TRIGGER.format(table=table)))
    elif op.get_context().dialect.name == "sqlite":
        for table in _TABLES:
            for verb in ("update", "delete"):
                op.execute(sa.text(_SQLITE_TRIGGER.format(table=table, op=verb, OP=verb.upper())))
    counters = sa.table(
        "change_counters", sa.column("name", sa.String()), sa.column("value", sa.BigInteger())
    )
    op.bulk_insert(counters, [{"name": "invoices", "value": 0}])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM change_counters WHERE name = 'invoices'"))
    # Dropping a table drops its triggers on both databases; the function goes after them.
    op.drop_table("invoice_lines")
    op.drop_table("invoices")
    if op.get_context().dialect.name == "postgresql":
        op.execute(sa.text("DROP FUNCTION onshore_refuse_invoice_change()"))
