"""Sovereignty: residency and personal-data policies, where each request was served, and the audit chain.

Expand only, like 0003: a replica of the previous release keeps running beside this one while they
roll (its ledger rows leave ``jurisdiction`` and ``pii_counts`` NULL; its audit entries are chained
by the next writer of this release, see ``store/sql/audit_chain.py``).

- ``policies``: jurisdictions and the personal-data policy per organisation or key.
- ``usage_records.jurisdiction`` and ``usage_records.pii_counts``.
- ``audit_log.seq``, ``prev_hash``, ``hash``: the hash chain; existing entries are chained here, in
  the order they were written.
- ``audit_checkpoints``: signed (seq, hash) pairs.
- ``change_counters`` row ``audit``: the chain's head number, whose row lock orders writers.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("usage_records") as batch:
        batch.add_column(sa.Column("jurisdiction", sa.String(length=2), nullable=True))
        batch.add_column(sa.Column("pii_counts", sa.JSON(none_as_null=True), nullable=True))
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
        batch.create_unique_constraint(batch.f("uq_audit_log_seq"), ["seq"])
    op.create_table(
        "audit_checkpoints",
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_checkpoints")),
    )
    op.create_table(
        "policies",
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("subject_id", sa.String(), nullable=False),
        sa.Column("jurisdictions", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("pii_mode", sa.String(length=16), nullable=True),
        sa.Column("pii_types", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("pii_restore", sa.Boolean(), nullable=True),
        sa.Column("pii_redact_output", sa.Boolean(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "subject_id", name=op.f("pk_policies")),
    )
    counters = sa.table(
        "change_counters", sa.column("name", sa.String()), sa.column("value", sa.BigInteger())
    )
    op.bulk_insert(counters, [{"name": "audit", "value": 0}])
    _chain_existing_audit_entries(counters)


def _chain_existing_audit_entries(counters: sa.TableClause) -> None:
    """Number and hash the entries already there, in the order they were written (at, then id),
    and set the chain's head number to their count. Only admin actions were audited before this
    release, so they are few; one UPDATE each keeps this plain SQL on both databases.

    The hash is ``onshore.domain.audit_chain``'s format v1, which never changes (a new format
    would be v2 beside it), so importing it here keeps this migration's result fixed.
    """
    if context.is_offline_mode():
        return  # `alembic upgrade --sql` has no rows to read; the next writer chains them instead
    from onshore.domain.audit_chain import GENESIS_HASH, chain  # noqa: PLC0415
    from onshore.store.sql.audit_chain import entry_from_row  # noqa: PLC0415

    audit = sa.table(
        "audit_log",
        sa.column("id", sa.String()),
        sa.column("at", sa.DateTime(timezone=True)),
        sa.column("actor", sa.String()),
        sa.column("action", sa.String()),
        sa.column("target_type", sa.String()),
        sa.column("target_id", sa.String()),
        sa.column("org_id", sa.String()),
        sa.column("detail", sa.JSON()),
        sa.column("seq", sa.BigInteger()),
        sa.column("prev_hash", sa.String()),
        sa.column("hash", sa.String()),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(audit).order_by(audit.c.at, audit.c.id)).all()
    # Read as the store reads them (a naive time on SQLite is UTC, as canonical_at takes it).
    entries = [entry_from_row(row) for row in rows]
    for entry in chain(entries, 0, GENESIS_HASH):
        bind.execute(
            sa.update(audit)
            .where(audit.c.id == entry.id)
            .values(seq=entry.seq, prev_hash=entry.prev_hash, hash=entry.hash)
        )
    bind.execute(sa.update(counters).where(counters.c.name == "audit").values(value=len(entries)))


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM change_counters WHERE name = 'audit'"))
    op.drop_table("policies")
    op.drop_table("audit_checkpoints")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_constraint(batch.f("uq_audit_log_seq"), type_="unique")
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
        batch.drop_column("seq")
    with op.batch_alter_table("usage_records") as batch:
        batch.drop_column("pii_counts")
        batch.drop_column("jurisdiction")
