"""The SQL store: SQLite by default, PostgreSQL in production, one schema, Alembic migrations.

Typical wiring (the composition root does this once)::

    engine = make_engine(settings.database_url, pool_size=settings.database.pool_size,
                         echo=settings.database.echo)
    tenancy = SqlTenancyStore(engine)   # TenancyStore, with unit_of_work() for change + audit
    ledger = SqlUsageStore(engine)      # UsageWriter, UsageReader, HealthCheck, RejectWriter
    audit = SqlAuditLog(engine)         # append-only audit trail (BatchWriter, RejectWriter)
    invoices = SqlInvoiceStore(engine)  # InvoiceStore: issued invoices, immutable
    limits = SqlLimitsStore(engine)     # LimitsStore: limits per organisation and key, prices
"""

from onshore.store.sql.audit import SqlAuditLog
from onshore.store.sql.engine import make_engine, normalise_url, redact_url
from onshore.store.sql.invoices import SqlInvoiceStore
from onshore.store.sql.ledger import SqlUsageStore
from onshore.store.sql.limits import SqlLimitsStore
from onshore.store.sql.rejects import SqlRejectStore
from onshore.store.sql.tenancy import SqlTenancyStore

__all__ = [
    "SqlAuditLog",
    "SqlInvoiceStore",
    "SqlLimitsStore",
    "SqlRejectStore",
    "SqlTenancyStore",
    "SqlUsageStore",
    "make_engine",
    "normalise_url",
    "redact_url",
]
