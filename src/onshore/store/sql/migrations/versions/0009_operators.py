"""Operators with roles and their tokens; the key-digest secret's generation per key.

Expand only, so the previous release keeps running beside this one during a rolling upgrade:

- ``operators`` and ``operator_tokens``: new tables the previous release never reads.
- ``api_keys.secret_id``: a new nullable column. The previous release neither selects nor writes it
  (its keys get NULL, which this release reads as "not recorded yet" and stamps on the key's next
  use), and a re-hash by this release changes ``digest`` and ``change_seq`` exactly as a
  revocation does, which the previous release's key sync already follows.

Nothing is dropped or renamed; a later contract step has nothing to remove either.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("grants", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operators")),
        sa.UniqueConstraint("name", name=op.f("uq_operators_name")),
    )
    op.create_table(
        "operator_tokens",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("operator_id", sa.String(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name=op.f("fk_operator_tokens_operator_id_operators")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_tokens")),
        sa.UniqueConstraint("digest", name=op.f("uq_operator_tokens_digest")),
    )
    op.create_index(op.f("ix_operator_tokens_operator_id"), "operator_tokens", ["operator_id"])
    # A plain ADD COLUMN on both databases (nullable, no default): no table rebuild, no lock held
    # longer than the catalogue change, nothing for the previous release to notice.
    op.add_column("api_keys", sa.Column("secret_id", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("secret_id")
    op.drop_index(op.f("ix_operator_tokens_operator_id"), table_name="operator_tokens")
    op.drop_table("operator_tokens")
    op.drop_table("operators")
