"""Ledger integrity and the audit trail.

- ``usage_records.client_request_id``: the client's own request id, kept for correlation only.
- ``ledger_rejects``: records the database refused, set aside instead of blocking the others.
- ``audit_log``: the append-only audit trail.
- ``api_keys.change_seq`` and ``change_counters``: replicas poll key changes by a database
  sequence instead of the writer's clock. Existing keys get 0: a replica's first poll loads every
  key anyway, and every later change takes a number above 0.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("usage_records") as batch:
        batch.add_column(sa.Column("client_request_id", sa.String(length=128), nullable=True))
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("change_seq", sa.BigInteger(), server_default="0", nullable=False))
        batch.create_index(batch.f("ix_api_keys_change_seq"), ["change_seq"], unique=False)
    counters = op.create_table(
        "change_counters",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_change_counters")),
    )
    op.bulk_insert(counters, [{"name": "api_keys", "value": 0}])
    op.create_table(
        "ledger_rejects",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("record_key", sa.String(length=256), nullable=False),
        sa.Column("reason", sa.String(length=128), nullable=False),
        sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_rejects")),
    )
    op.create_index(op.f("ix_ledger_rejects_record_key"), "ledger_rejects", ["record_key"], unique=False)
    op.create_index(op.f("ix_ledger_rejects_rejected_at"), "ledger_rejects", ["rejected_at"], unique=False)
    op.create_table(
        "audit_log",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("target_type", sa.String(), nullable=False),
        sa.Column("target_id", sa.String(), nullable=True),
        sa.Column("org_id", sa.String(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"], unique=False)
    op.create_index("ix_audit_log_org_id_at", "audit_log", ["org_id", "at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_audit_log_org_id_at", table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_at"), table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index(op.f("ix_ledger_rejects_rejected_at"), table_name="ledger_rejects")
    op.drop_index(op.f("ix_ledger_rejects_record_key"), table_name="ledger_rejects")
    op.drop_table("ledger_rejects")
    op.drop_table("change_counters")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_index(batch.f("ix_api_keys_change_seq"))
        batch.drop_column("change_seq")
    with op.batch_alter_table("usage_records") as batch:
        batch.drop_column("client_request_id")
