"""Operators and their tokens (docs/operators.md), on ``schema.metadata``."""

from __future__ import annotations

from sqlalchemy import JSON, Column, ForeignKey, String, Table

from onshore.store.sql.schema import UtcDateTime, metadata

operators = Table(
    "operators",
    metadata,
    Column("id", String, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(32), nullable=False),
    Column("grants", JSON, nullable=False),  # a list of permissions beyond the role's
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
)

# Only the token's SHA-256 (domain/operators.py says why not an HMAC); the prefix is for listings.
operator_tokens = Table(
    "operator_tokens",
    metadata,
    Column("id", String, primary_key=True),
    Column("operator_id", ForeignKey("operators.id"), nullable=False, index=True),
    Column("digest", String(64), nullable=False, unique=True),
    Column("prefix", String(32), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=True),
    Column("revoked_at", UtcDateTime, nullable=True),
)
