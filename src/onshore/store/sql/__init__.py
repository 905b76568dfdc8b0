"""The SQL store: SQLite by default, PostgreSQL in production, one schema, Alembic migrations.

Typical wiring (the composition root does this once)::

    engine = make_engine(settings.database_url, pool_size=settings.database.pool_size,
                         echo=settings.database.echo)
    tenancy = SqlTenancyStore(engine)
    ledger = SqlUsageStore(engine)   # UsageWriter, UsageReader and HealthCheck
"""

from onshore.store.sql.engine import make_engine, normalise_url, redact_url
from onshore.store.sql.ledger import SqlUsageStore
from onshore.store.sql.tenancy import SqlTenancyStore

__all__ = ["SqlTenancyStore", "SqlUsageStore", "make_engine", "normalise_url", "redact_url"]
