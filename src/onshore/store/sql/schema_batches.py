"""The Batch API's tables (docs/batches.md), on ``schema.metadata``; ``schema`` re-exports them."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from onshore.store.sql.schema import UtcDateTime, metadata

# Uploaded and generated files: the bytes live in the file store (``files.dir``), the row says whose
# they are. Every read is by (org_id, id), so one organisation never reaches another's file.
files = Table(
    "files",
    metadata,
    Column("id", String, primary_key=True),
    Column("org_id", String, nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("filename", String(512), nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=True),  # retention: removed after this instant
    Index("ix_files_org_id_created_at", "org_id", "created_at"),
)

# One row per batch. ``lease_owner``/``lease_expires_at``: the replica running it, renewed while it
# runs; another replica takes a batch over only once the lease has expired.
batches = Table(
    "batches",
    metadata,
    Column("id", String, primary_key=True),
    Column("org_id", String, nullable=False),
    Column("key_id", String, nullable=False),  # whose identity the batch's requests carry
    Column("endpoint", String(64), nullable=False),
    Column("input_file_id", String, nullable=False),
    Column("completion_window", String(16), nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("output_file_id", String, nullable=True),
    Column("error_file_id", String, nullable=True),
    Column("errors", JSON(none_as_null=True), nullable=True),  # validation errors, OpenAI's shape
    Column("batch_metadata", JSON(none_as_null=True), nullable=True),
    Column("request_total", Integer, nullable=False, server_default="0"),
    Column("request_completed", Integer, nullable=False, server_default="0"),
    Column("request_failed", Integer, nullable=False, server_default="0"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),  # the end of the completion window
    Column("in_progress_at", UtcDateTime, nullable=True),
    Column("finalizing_at", UtcDateTime, nullable=True),
    Column("completed_at", UtcDateTime, nullable=True),
    Column("failed_at", UtcDateTime, nullable=True),
    Column("expired_at", UtcDateTime, nullable=True),
    Column("cancelling_at", UtcDateTime, nullable=True),
    Column("cancelled_at", UtcDateTime, nullable=True),
    Column("lease_owner", String, nullable=True),
    Column("lease_expires_at", UtcDateTime, nullable=True),
    Index("ix_batches_org_id_created_at", "org_id", "created_at"),
)

# One row per line of a batch's input file: pending until its result line is committed (done), so
# a batch taken over after a restart runs exactly the lines still pending.
batch_requests = Table(
    "batch_requests",
    metadata,
    Column("batch_id", String, primary_key=True),
    Column("line", Integer, primary_key=True),  # 0-based line number in the input file
    Column("custom_id", String, nullable=False),
    Column("state", String(16), nullable=False),  # pending | done
    Column("failed", Boolean, nullable=False, server_default="0"),
    Column("result", Text, nullable=True),  # the output or error file's line, as JSON text
    UniqueConstraint("batch_id", "custom_id"),
    Index("ix_batch_requests_batch_id_state", "batch_id", "state"),
)
