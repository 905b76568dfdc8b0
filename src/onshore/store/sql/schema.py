"""The tables, as SQLAlchemy Core; ``migrations/versions`` must match this module exactly.

``alembic check`` (``migrate.check_models_match``) compares the two in CI, so a column added here
without a migration fails the build.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

from onshore.store.sql.rollup_triggers import LATENCY_COLUMNS as ROLLUP_LATENCY_COLUMNS
from onshore.store.sql.rollup_triggers import SUMS as ROLLUP_SUMS

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


metadata: MetaData = MetaData(naming_convention=NAMING_CONVENTION)

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
    # Set by the application on insert and revoke, from the writer's clock: informational only.
    Column("updated_at", UtcDateTime, nullable=False, index=True),
    # Replicas poll "changed since sequence N" to refresh their in-memory key snapshot. The number
    # comes from change_counters inside the writing transaction, so it never depends on a clock
    # and grows in commit order (see SqlTenancyStore.keys_changed_since_seq).
    Column("change_seq", BigInteger, nullable=False, server_default="0", index=True),
    # Which generation of the key-digest secret made ``digest`` (``KeyDigester.secret_id``); NULL
    # for keys made before 0009 or by a release before it (stamped on the key's next use).
    Column("secret_id", String(16), nullable=True),
)

# One row per sequence ("api_keys", "limits"). Taking the next number is an UPDATE of this row, whose row
# lock is held to the end of the writing transaction: writers queue here, so numbers become
# visible in the order they were taken (a PostgreSQL SEQUENCE does not promise that).
change_counters = Table(
    "change_counters",
    metadata,
    Column("name", String, primary_key=True),
    Column("value", BigInteger, nullable=False),
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
    # The client's own x-request-id, for correlation only (the key above is the server's).
    Column("client_request_id", String(128), nullable=True),
    # Prompt tokens served from the engine's prefix cache (priced as cached input). The default
    # lets a replica of the previous release keep inserting rows while the new one runs.
    Column("cached_tokens", Integer, nullable=False, server_default="0"),
    # The cost at the price in force when the request was served, in micro-won; NULL when the
    # model had no price (or the row was written by a release before prices).
    Column("cost_micro_krw", BigInteger, nullable=True),
    # Where the request was served: the backend's jurisdiction (ISO 3166-1 alpha-2), NULL when no
    # backend was chosen (refused before routing) or written by a release before residency.
    Column("jurisdiction", String(2), nullable=True),
    # Personal data found in the request, as counts per type ({"KR_RRN": 2}); never a value.
    Column("pii_counts", JSON(none_as_null=True), nullable=True),
    # The batch this request ran for (``batches.id``), NULL for interactive requests: a batch price
    # can apply to these rows. Nullable, so the previous release keeps inserting rows without it.
    Column("batch_id", String, nullable=True),
    # Billing reads one organisation's rows for a period.
    Index("ix_usage_records_org_id_created_at", "org_id", "created_at"),
)

# Records the database refused (a NUL byte in a text column, a value out of range), set aside so
# they block nothing and are never lost. ``payload`` is the record as ASCII JSON, always storable;
# ``reason`` an error class name, never a message (messages can quote the data). ``id`` is a
# digest of kind and payload, so setting the same record aside twice keeps one row.
ledger_rejects = Table(
    "ledger_rejects",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("record_key", String(256), nullable=False, index=True),
    Column("reason", String(128), nullable=False),
    Column("rejected_at", UtcDateTime, nullable=False, index=True),
    Column("payload", Text, nullable=False),
)

# The audit trail: append-only (the store has no update or delete for it). No foreign keys, for
# the same reason as the ledger: an entry outlives what it describes.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", String, primary_key=True),
    Column("at", UtcDateTime, nullable=False, index=True),
    Column("actor", String, nullable=False),
    Column("action", String, nullable=False),
    Column("target_type", String, nullable=False),
    Column("target_id", String, nullable=True),
    Column("org_id", String, nullable=True),
    Column("detail", JSON, nullable=False),
    # The hash chain (see store/sql/audit_chain.py): entries are numbered in commit order under
    # the ``audit`` change-counter row lock; ``hash`` covers the entry and the previous hash.
    Column("seq", BigInteger, nullable=True, unique=True),
    Column("prev_hash", String(64), nullable=True),
    Column("hash", String(64), nullable=True),
    Index("ix_audit_log_org_id_at", "org_id", "at"),
)

# Signed checkpoints of the audit chain: (seq, hash) signed with the gateway's Ed25519 key, whose
# private half never enters the database. An auditor keeps copies elsewhere (`onshore audit
# checkpoint --out`); a chain cut short or rebuilt no longer matches them.
audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("seq", BigInteger, primary_key=True),
    Column("hash", String(64), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("key_id", String(64), nullable=False),  # the public key's fingerprint
    Column("signature", String(128), nullable=False),  # hex Ed25519 signature
)

# Where an organisation's or key's data may go and what happens to personal data in its requests.
# One row per subject that has any; NULL columns mean "not set here" (an organisation without
# jurisdictions is limited to the gateway's own; a key without them has its organisation's; a key
# without a personal-data policy has its organisation's). Changes take the ``limits`` change
# number, so replicas reload them with the limits snapshot.
policies = Table(
    "policies",
    metadata,
    Column("scope", String(8), primary_key=True),  # "org" or "key"
    Column("subject_id", String, primary_key=True),
    Column("jurisdictions", JSON(none_as_null=True), nullable=True),  # ["KR", "JP"]
    Column("pii_mode", String(16), nullable=True),  # off | detect | redact | block
    Column("pii_types", JSON(none_as_null=True), nullable=True),  # NULL: every type
    Column("pii_restore", Boolean, nullable=True),
    Column("pii_redact_output", Boolean, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Limits per organisation or key: one row per subject that has any, a NULL column means "no limit
# of this kind". No foreign key, like the audit log: a deleted key's row is harmless, and the
# admin operations check that the subject exists. ``tier`` is set on organisations only.
limits = Table(
    "limits",
    metadata,
    Column("scope", String(8), primary_key=True),  # "org" or "key"
    Column("subject_id", String, primary_key=True),
    Column("rpm", BigInteger, nullable=True),
    Column("tpm", BigInteger, nullable=True),
    Column("max_concurrent", BigInteger, nullable=True),
    Column("monthly_tokens", BigInteger, nullable=True),
    Column("monthly_budget_krw", BigInteger, nullable=True),  # whole won
    Column("tier", String(16), nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)

# The price book: every price ever set, so a day's price can always be found again. Prices are in
# won per million tokens, stored as integer micro-won per million tokens: exact on SQLite (whose
# NUMERIC is a float) and PostgreSQL alike, and six decimal places is finer than any tariff.
prices = Table(
    "prices",
    metadata,
    Column("model", String, primary_key=True),
    Column("effective_from", Date, primary_key=True),  # a UTC day
    Column("input_micro_krw", BigInteger, nullable=False),
    Column("output_micro_krw", BigInteger, nullable=False),
    Column("cached_input_micro_krw", BigInteger, nullable=True),  # NULL: cached input costs input's price
    Column("created_at", UtcDateTime, nullable=False),
)

# Issued invoices (see ``onshore.domain.invoice``): immutable once written. The store has no update
# or delete for them, and migration 0005 adds triggers on both databases that refuse UPDATE and
# DELETE of a row here or in ``invoice_lines``. ``id`` is the invoice number (INV-2026-12-000001),
# taken from the ``invoices`` change-counter row, so numbers are unique and gap-free across
# replicas. A correction is a new invoice whose ``corrects`` names the old one (which then counts
# as superseded); ``revision`` counts corrections of one organisation's month, and the unique
# constraint on (org_id, month, revision) lets only one invoice be the first, or the n-th
# correction, even when two replicas issue at once. Amounts are whole won, except
# ``ledger_micro_krw``: the exact sum of the ledger rows' costs the invoice bills.
invoices = Table(
    "invoices",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("seq", BigInteger, nullable=False, unique=True),
    Column("org_id", String, nullable=False),
    Column("org_name", String, nullable=False),  # as it was when issued
    Column("month", String(7), nullable=False),  # YYYY-MM, UTC
    Column("revision", Integer, nullable=False),  # 0, then 1 for the first correction ...
    Column("corrects", ForeignKey("invoices.id"), nullable=True, unique=True),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("issued_by", String, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("ledger_micro_krw", BigInteger, nullable=False),
    Column("subtotal_krw", BigInteger, nullable=False),
    Column("vat_rate", String(16), nullable=False),  # a decimal as text, exact ("0.1")
    Column("vat_krw", BigInteger, nullable=False),
    Column("total_krw", BigInteger, nullable=False),
    Column("issuer", JSON, nullable=False),  # the issuer's details for the header, as configured
    UniqueConstraint("org_id", "month", "revision", name="uq_invoices_org_id_month_revision"),
)

# One line per model and price period of an invoice. Prices are micro-won per million tokens as in
# ``prices`` (NULL: the model had no price then); ``amount_micro_krw`` is the ledger's cost of the
# line's rows, each at the price in force when it was served.
invoice_lines = Table(
    "invoice_lines",
    metadata,
    Column("invoice_id", ForeignKey("invoices.id"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("model", String, nullable=False),
    Column("period_start", Date, nullable=False),  # UTC days, both included
    Column("period_end", Date, nullable=False),
    Column("requests", BigInteger, nullable=False),
    Column("input_tokens", BigInteger, nullable=False),  # uncached prompt tokens
    Column("cached_tokens", BigInteger, nullable=False),
    Column("output_tokens", BigInteger, nullable=False),
    Column("input_price_micro_krw", BigInteger, nullable=True),
    Column("cached_price_micro_krw", BigInteger, nullable=True),
    Column("output_price_micro_krw", BigInteger, nullable=True),
    Column("amount_micro_krw", BigInteger, nullable=False),
)


# The ledger summed per UTC hour (and per UTC day), organisation, model and backend (the dashboard's
# overview): kept by a trigger on ``usage_records`` in the ledger insert's transaction
# (``store/sql/rollup_triggers.py``), so they count exactly the rows inserted, whichever replica or
# release inserts them. '' stands for a NULL in the ledger (a primary key column cannot be NULL).
# ``latency_bNN`` count requests per latency bucket (``onshore.domain.usage_series``), from which
# percentiles are read. The daily table answers day and month buckets with 24 times fewer rows.
def _rollup(name: str, unit: str) -> Table:
    return Table(
        name,
        metadata,
        Column(unit, UtcDateTime, primary_key=True),
        Column("org_id", String, primary_key=True),
        Column("model", String, primary_key=True),
        Column("backend", String, primary_key=True),
        *(Column(name, BigInteger, nullable=False, server_default="0") for name in ROLLUP_SUMS),
        *(Column(name, Integer, nullable=False, server_default="0") for name in ROLLUP_LATENCY_COLUMNS),
        Index(f"ix_{name}_org_id_{unit}", "org_id", unit),
    )


usage_hourly = _rollup("usage_hourly", "hour")
usage_daily = _rollup("usage_daily", "day")


# Stored Responses API answers (``store: true``), per organisation, until ``expires_at``
# (``responses.retention_days``): the response object and its full input, personal data redacted
# when the organisation's policy redacts. Read only together with the organisation.
responses = Table(
    "responses",
    metadata,
    Column("id", String, primary_key=True),
    Column("org_id", String, nullable=False),
    Column("model", String, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
    Column("body", JSON, nullable=False),
    Column("input_items", JSON, nullable=False),
)

# The Batch API's tables join this metadata (their own module, for its size); imported for that.
from onshore.store.sql import schema_batches, schema_operators  # noqa: E402, F401
