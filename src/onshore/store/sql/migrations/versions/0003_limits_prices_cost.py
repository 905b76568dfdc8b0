"""Limits, the price book, and the cost of each ledger row.

Expand only: new tables and columns that are nullable or have a server default, so a replica of the
previous release keeps running beside one of this release while they roll (its ledger inserts leave
``cached_tokens`` at 0 and ``cost_micro_krw`` NULL, which is what they mean).

- ``limits``: limits per organisation or key (NULL: no limit of that kind).
- ``prices``: won per million tokens per model from a UTC day on, as integer micro-won.
- ``usage_records.cached_tokens`` and ``usage_records.cost_micro_krw``.
- ``change_counters`` row ``limits``: every change of a limit or a price takes its next number,
  which replicas poll to know when to reload.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("usage_records") as batch:
        batch.add_column(sa.Column("cached_tokens", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("cost_micro_krw", sa.BigInteger(), nullable=True))
    op.create_table(
        "limits",
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("subject_id", sa.String(), nullable=False),
        sa.Column("rpm", sa.BigInteger(), nullable=True),
        sa.Column("tpm", sa.BigInteger(), nullable=True),
        sa.Column("max_concurrent", sa.BigInteger(), nullable=True),
        sa.Column("monthly_tokens", sa.BigInteger(), nullable=True),
        sa.Column("monthly_budget_krw", sa.BigInteger(), nullable=True),
        sa.Column("tier", sa.String(length=16), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "subject_id", name=op.f("pk_limits")),
    )
    op.create_table(
        "prices",
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("input_micro_krw", sa.BigInteger(), nullable=False),
        sa.Column("output_micro_krw", sa.BigInteger(), nullable=False),
        sa.Column("cached_input_micro_krw", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("model", "effective_from", name=op.f("pk_prices")),
    )
    counters = sa.table(
        "change_counters", sa.column("name", sa.String()), sa.column("value", sa.BigInteger())
    )
    op.bulk_insert(counters, [{"name": "limits", "value": 0}])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM change_counters WHERE name = 'limits'"))
    op.drop_table("prices")
    op.drop_table("limits")
    with op.batch_alter_table("usage_records") as batch:
        batch.drop_column("cost_micro_krw")
        batch.drop_column("cached_tokens")
