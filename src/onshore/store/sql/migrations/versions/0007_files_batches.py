"""The Batch API: files, batches and one row per batch request; ``usage_records.batch_id``.

Expand only: three new tables and one nullable column, so a replica of the previous release keeps
inserting ledger rows (without a batch id) while the new one rolls out.

- ``files``: who owns an uploaded or generated file (its bytes are in the file store).
- ``batches``: one batch, its status and timestamps in OpenAI's shape, its request counts, and the
  lease (owner, expiry) of the replica running it.
- ``batch_requests``: one row per input line, pending until its result line is committed.
- ``usage_records.batch_id``: the batch a request ran for (NULL: interactive), for a batch price.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "files",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("org_id", sa.String(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("filename", sa.String(length=512), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_files")),
    )
    op.create_index("ix_files_org_id_created_at", "files", ["org_id", "created_at"])
    op.create_table(
        "batches",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("org_id", sa.String(), nullable=False),
        sa.Column("key_id", sa.String(), nullable=False),
        sa.Column("endpoint", sa.String(length=64), nullable=False),
        sa.Column("input_file_id", sa.String(), nullable=False),
        sa.Column("completion_window", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("output_file_id", sa.String(), nullable=True),
        sa.Column("error_file_id", sa.String(), nullable=True),
        sa.Column("errors", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("batch_metadata", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("request_total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("request_completed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("request_failed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        *(
            sa.Column(f"{moment}_at", sa.DateTime(timezone=True), nullable=True)
            for moment in (
                "in_progress",
                "finalizing",
                "completed",
                "failed",
                "expired",
                "cancelling",
                "cancelled",
            )
        ),
        sa.Column("lease_owner", sa.String(), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
    )
    op.create_index("ix_batches_org_id_created_at", "batches", ["org_id", "created_at"])
    op.create_index(op.f("ix_batches_status"), "batches", ["status"])
    op.create_table(
        "batch_requests",
        sa.Column("batch_id", sa.String(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("custom_id", sa.String(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("failed", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("batch_id", "line", name=op.f("pk_batch_requests")),
        sa.UniqueConstraint("batch_id", "custom_id", name=op.f("uq_batch_requests_batch_id")),
    )
    op.create_index("ix_batch_requests_batch_id_state", "batch_requests", ["batch_id", "state"])
    with op.batch_alter_table("usage_records") as batch:
        batch.add_column(sa.Column("batch_id", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("usage_records") as batch:
        batch.drop_column("batch_id")
    op.drop_index("ix_batch_requests_batch_id_state", table_name="batch_requests")
    op.drop_table("batch_requests")
    op.drop_index(op.f("ix_batches_status"), table_name="batches")
    op.drop_index("ix_batches_org_id_created_at", table_name="batches")
    op.drop_table("batches")
    op.drop_index("ix_files_org_id_created_at", table_name="files")
    op.drop_table("files")
