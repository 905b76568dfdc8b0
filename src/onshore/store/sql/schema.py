"""The tables, as SQLAlchemy Core; ``migrations/versions`` must match this module exactly.

``alembic check`` (``migrate.check_models_match``) compares the two in CI, so a column added here
without a migration fails the build.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    TypeDecorator,
)

# Named constraints can be dropped later on both SQLite (batch mode rebuilds tables by name) and
# PostgreSQL; unnamed ones get database-chosen names that a migration cannot refer to.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database.

    PostgreSQL keeps the instant (``timestamptz``) but returns it in the session's time zone, and
    SQLite keeps no zone at all; both are normalised to UTC here so callers always compare aware
    datetimes. A naive value is taken to be UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if dialect.name == "sqlite":
            # SQLite stores text; one fixed zone-less format keeps string comparison (and so
            # range queries and ORDER BY) correct.
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):  # pragma: no cover - drivers always return datetime
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(naming_convention=NAMING_CONVENTION)

organisations = Table(
    "organisations",
    metadata,
    Column("id", String, primary_key=True),
    Column("name", String, nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String, primary_key=True),
    Column("org_id", ForeignKey("organisations.id"), nullable=False, index=True),
    Column("name", String, nullable=False),
    Column("digest", String, nullable=False, unique=True),  # HMAC-SHA256 hex; never the secret
    Column("prefix", String, nullable=False),
    # NULL means every model; a JSON list is the allow-list. none_as_null keeps "every model" a SQL
    # NULL rather than the JSON literal 'null', so it can be queried with IS NULL.
    Column("models", JSON(none_as_null=True), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=True),
    Column("revoked_at", UtcDateTime, nullable=True),
    # Set by the application on insert and revoke; replicas poll "updated since" to refresh their
    # in-memory key snapshot, hence the index.
    Column("updated_at", UtcDateTime, nullable=False, index=True),
)

# No foreign keys on the ledger: a row must be accepted even when its organisation or key was
# deleted, or never existed (failed authentication), and inserts stay cheap.
usage_records = Table(
    "usage_records",
    metadata,
    Column("request_id", String, primary_key=True),
    Column("created_at", UtcDateTime, nullable=False, index=True),
    Column("org_id", String, nullable=True),
    Column("key_id", String, nullable=True),
    Column("endpoint", String, nullable=False),
    Column("model", String, nullable=True),
    Column("backend", String, nullable=True),
    Column("status", Integer, nullable=False),
    Column("streamed", Boolean, nullable=False),
    Column("prompt_tokens", Integer, nullable=False),
    Column("completion_tokens", Integer, nullable=False),
    Column("total_tokens", Integer, nullable=False),
    Column("ttft_ms", Float, nullable=True),
    Column("latency_ms", Float, nullable=False),
    Column("error_code", String, nullable=True),
    # Billing reads one organisation's rows for a period.
    Index("ix_usage_records_org_id_created_at", "org_id", "created_at"),
)
