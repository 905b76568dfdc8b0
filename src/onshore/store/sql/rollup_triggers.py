"""The ledger's rollups (``usage_hourly``, ``usage_daily``), kept by the database in the ledger's own
transaction.

Why triggers and not the application: the rollup must stay exact while several replicas, and
replicas of an older release during a rolling upgrade, insert ledger rows at least once. Only the
database knows which rows an ``INSERT … ON CONFLICT DO NOTHING`` really inserted, so the database
adds them up, in the same transaction: a row and its count commit together or not at all.

- PostgreSQL: a statement-level ``AFTER INSERT`` trigger with a transition table (``new_rows``, the
  rows inserted, conflicts excluded) runs one ``INSERT … SELECT … GROUP BY … ON CONFLICT DO UPDATE``
  per rollup per statement. Its groups are upserted in key order, so two writers whose batches touch the same
  rollup rows lock them in the same order and cannot deadlock.
- SQLite: a row-level ``AFTER INSERT`` trigger upserts the row's group (a skipped duplicate fires no
  insert trigger).

Both share one aggregating SELECT, also used to backfill the rows already there. The statements are
versioned: ``v1`` never changes (migration 0006 builds them), a new shape would be ``v2`` beside it.

Beware SQLite batch migrations: ``op.batch_alter_table("usage_records")`` copies and drops the table,
and its triggers with it; such a migration must run :func:`drop_v1` before and :func:`create_v1`
after (``tests/integration/store/test_store_migration_0006.py`` checks that the head has a trigger).
"""

from __future__ import annotations

from onshore.domain.usage_series import LATENCY_BOUNDS_MS

ROLLUP = "usage_hourly"
DAILY = "usage_daily"
TRIGGER = "usage_records_rollup"
_FUNCTION = "usage_hourly_add"  # PostgreSQL's trigger function

KEY = ("hour", "org_id", "model", "backend")  # usage_daily's: "day" for "hour"
SUMS = (
    "requests",
    "errors",
    "billable_requests",
    "prompt_tokens",
    "cached_tokens",
    "completion_tokens",
    "total_tokens",
    "cost_micro_krw",
)
LATENCY_COLUMNS = tuple(f"latency_b{index:02d}" for index in range(len(LATENCY_BOUNDS_MS) + 1))
_SOURCE_COLUMNS = (
    "created_at",
    "org_id",
    "model",
    "backend",
    "status",
    "prompt_tokens",
    "cached_tokens",
    "completion_tokens",
    "total_tokens",
    "cost_micro_krw",
)
# The same rule as onshore.domain.usage (and SqlUsageStore.summary).
_BILLABLE = (
    "(status >= 200 AND status < 300) OR total_tokens > 0 OR prompt_tokens > 0 OR completion_tokens > 0"
)
# repr() of a float reads back as exactly the same double in Python, PostgreSQL and SQLite, so a
# latency on a bound lands in the same bucket everywhere.
_BOUNDS = [repr(bound) for bound in LATENCY_BOUNDS_MS]


def _truncate(dialect: str, unit: str) -> str:
    """The start of the UTC hour or day of ``created_at``."""
    if dialect == "postgresql":
        # AT TIME ZONE twice: the UTC hour whatever the session's time zone (date_trunc of a
        # timestamptz truncates in the session's zone, wrong by half an hour in India).
        return f"date_trunc('{unit}', created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    # SQLAlchemy's text format for the UtcDateTime column; strftime also reads what an older writer
    # may have stored ("…T…", "+00:00") and answers UTC.
    hours = "%H" if unit == "hour" else "00"
    return f"strftime('%Y-%m-%d {hours}:00:00.000000', created_at)"


def _latency_bucket(dialect: str, latency: str) -> str:
    if dialect == "postgresql":
        # width_bucket with an array of lower bounds: 0 below the first, len(bounds) from the last.
        return f"width_bucket({latency}, ARRAY[{', '.join(_BOUNDS)}]::double precision[])"
    whens = " ".join(f"WHEN {latency} < {bound} THEN {index}" for index, bound in enumerate(_BOUNDS))
    return f"CASE {whens} ELSE {len(_BOUNDS)} END"


def _upsert(dialect: str, rows: str, table: str) -> str:
    """Add the groups of ``rows`` (a SELECT of the source columns and ``b``, the latency bucket) to
    ``usage_hourly`` or ``usage_daily``."""
    unit = "hour" if table == ROLLUP else "day"
    key = (unit, *KEY[1:])
    counts = [
        "count(*)",
        "sum(CASE WHEN status >= 400 THEN 1 ELSE 0 END)",
        f"sum(CASE WHEN {_BILLABLE} THEN 1 ELSE 0 END)",
        "sum(prompt_tokens)",
        "sum(cached_tokens)",
        "sum(completion_tokens)",
        "sum(total_tokens)",
        "coalesce(sum(cost_micro_krw), 0)",
        *(f"sum(CASE WHEN b = {index} THEN 1 ELSE 0 END)" for index in range(len(LATENCY_COLUMNS))),
    ]
    columns = (*key, *SUMS, *LATENCY_COLUMNS)
    additions = ", ".join(f"{name} = {table}.{name} + excluded.{name}" for name in (*SUMS, *LATENCY_COLUMNS))
    # ORDER BY: rollup rows are locked in key order (no deadlock between writers). WHERE true: SQLite
    # would otherwise read the ON of ON CONFLICT as a join's.
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 - constants only, no input
        f"SELECT {_truncate(dialect, unit)}, "
        "coalesce(org_id, ''), coalesce(model, ''), coalesce(backend, ''), "
        f"{', '.join(counts)} FROM ({rows}) AS r WHERE true "
        f"GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4 "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {additions}"
    )


def _rows_of_table(dialect: str, table: str) -> str:
    return f"SELECT {', '.join(_SOURCE_COLUMNS)}, {_latency_bucket(dialect, 'latency_ms')} AS b FROM {table}"  # noqa: S608 - constants only


def _both(dialect: str, rows: str) -> str:
    # Hourly rows first, then daily ones, in every writer: locks are always taken in one order.
    return f"{_upsert(dialect, rows, ROLLUP)}; {_upsert(dialect, rows, DAILY)};"


def create_v1(dialect: str) -> list[str]:
    """The statements that create the trigger (and PostgreSQL's trigger function)."""
    if dialect == "postgresql":
        return [
            f"CREATE FUNCTION {_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"{_both(dialect, _rows_of_table(dialect, 'new_rows'))} RETURN NULL; END $$",
            f"CREATE TRIGGER {TRIGGER} AFTER INSERT ON usage_records REFERENCING NEW TABLE AS new_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {_FUNCTION}()",
        ]
    new = ", ".join(f"NEW.{name} AS {name}" for name in _SOURCE_COLUMNS)
    row = f"SELECT {new}, {_latency_bucket(dialect, 'NEW.latency_ms')} AS b"
    return [
        f"CREATE TRIGGER {TRIGGER} AFTER INSERT ON usage_records FOR EACH ROW BEGIN {_both(dialect, row)} END"
    ]


def drop_v1(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [
            f"DROP TRIGGER IF EXISTS {TRIGGER} ON usage_records",
            f"DROP FUNCTION IF EXISTS {_FUNCTION}()",
        ]
    return [f"DROP TRIGGER IF EXISTS {TRIGGER}"]


def backfill_v1(dialect: str) -> list[str]:
    """Count the rows already in the ledger into an empty rollup, exactly once.

    Run after :func:`create_v1` in the same transaction: on PostgreSQL the ledger is locked first
    (``SHARE ROW EXCLUSIVE``, which CREATE TRIGGER takes anyway) so every insert either committed
    before and is counted here, or waits and fires the trigger; none falls between the two.
    """
    lock = ["LOCK TABLE usage_records IN SHARE ROW EXCLUSIVE MODE"] if dialect == "postgresql" else []
    rows = _rows_of_table(dialect, "usage_records")
    return [*lock, _upsert(dialect, rows, ROLLUP), _upsert(dialect, rows, DAILY)]
