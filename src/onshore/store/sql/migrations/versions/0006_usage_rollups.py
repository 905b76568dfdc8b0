"""Usage rollups: the ledger summed per UTC hour (and day), organisation, model and backend, for the
dashboard.

Expand only: new tables, kept by a trigger on ``usage_records`` (``store/sql/rollup_triggers.py``),
so rows inserted by a replica of the previous release while they roll are counted too, in the
ledger insert's own transaction.

- ``usage_hourly`` and ``usage_daily``: per (hour or day, org_id, model, backend), '' standing for
  none (a primary key cannot hold NULL on both databases): requests, errors (status >= 400),
  billable requests, prompt, cached, completion and total tokens, cost in micro-won, and a latency
  histogram (``latency_b00`` .. ``latency_b41``, see ``onshore.domain.usage_series``).
- The trigger (and on PostgreSQL its function), then the rows already in the ledger counted in.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from onshore.store.sql import rollup_triggers as rollup

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table, unit in (("usage_hourly", "hour"), ("usage_daily", "day")):
        op.create_table(
            table,
            sa.Column(unit, sa.DateTime(timezone=True), nullable=False),
            sa.Column("org_id", sa.String(), nullable=False),
            sa.Column("model", sa.String(), nullable=False),
            sa.Column("backend", sa.String(), nullable=False),
            *(sa.Column(name, sa.BigInteger(), server_default="0", nullable=False) for name in rollup.SUMS),
            *(
                sa.Column(name, sa.Integer(), server_default="0", nullable=False)
                for name in rollup.LATENCY_COLUMNS
            ),
            sa.PrimaryKeyConstraint(unit, "org_id", "model", "backend", name=op.f(f"pk_{table}")),
        )
        # The overview filtered by organisation reads one organisation's hours or days.
        op.create_index(f"ix_{table}_org_id_{unit}", table, ["org_id", unit])
    dialect = op.get_context().dialect.name
    # The trigger first, then the backfill: an insert either committed before the backfill's
    # snapshot (counted there) or waits on the trigger's lock and is counted by it.
    for statement in (*rollup.create_v1(dialect), *rollup.backfill_v1(dialect)):
        op.execute(_literal(statement))


def downgrade() -> None:
    for statement in rollup.drop_v1(op.get_context().dialect.name):
        op.execute(_literal(statement))
    for table, unit in (("usage_daily", "day"), ("usage_hourly", "hour")):
        op.drop_index(f"ix_{table}_org_id_{unit}", table_name=table)
        op.drop_table(table)


def _literal(statement: str) -> sa.TextClause:
    # Escaped: a colon in the SQL ("%H:00", "::double precision") is not a bind parameter.
    return sa.text(statement.replace(":", "\\:"))
