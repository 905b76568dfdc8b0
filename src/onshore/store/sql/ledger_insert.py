"""A batch of ledger rows as ONE statement on PostgreSQL: ``INSERT … SELECT FROM unnest(arrays)``.

Why: the hourly rollup is kept by a statement-level trigger (``store/sql/rollup_triggers.py``),
which runs once per statement. An executemany sends one INSERT per row, so the trigger (one upsert
into the rollup) would run per row too: measured on 10,000 rows in batches of 500, 4x the cost of
the insert alone. One statement per batch runs it once per batch: the insert with the rollup then
costs about what the executemany alone did (``benchmarks/dashboard_bench.py --insert-cost``).

One array per column, typed by a cast to the column's type, so what a value may be is what the
executemany allowed: psycopg refuses a NUL byte before sending, the database a number out of range
(both ``RecordsRefused`` through ``translate_write_errors``). SQLite keeps the executemany: its
trigger is row-level anyway and its inserts are in-process.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Dialect, Table, TextClause, text


class PgBatchInsert:
    """``INSERT INTO table (…) SELECT * FROM unnest(…) ON CONFLICT (primary key) DO NOTHING``."""

    def __init__(self, table: Table, dialect: Dialect) -> None:
        self._names = [column.name for column in table.columns]
        # The columns' own bind processing (UtcDateTime to UTC, JSON to text) applied per value.
        self._processors: list[Callable[[Any], Any] | None] = [
            column.type.dialect_impl(dialect).bind_processor(dialect) for column in table.columns
        ]
        arrays = ", ".join(
            f"CAST(:{name} AS {_array_type(column.type.compile(dialect=dialect))})"
            for name, column in zip(self._names, table.columns, strict=True)
        )
        keys = ", ".join(column.name for column in table.primary_key.columns)
        self._statement: TextClause = text(
            f"INSERT INTO {table.name} ({', '.join(self._names)}) SELECT * FROM unnest({arrays}) "  # noqa: S608 - the table's own names, no input
            f"ON CONFLICT ({keys}) DO NOTHING"
        )

    def execute(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Insert ``rows`` (dicts of every column) in one statement; stored keys are skipped."""
        params: dict[str, list[Any]] = {}
        for name, process in zip(self._names, self._processors, strict=True):
            values = [row[name] for row in rows]
            params[name] = values if process is None else [process(value) for value in values]
        conn.execute(self._statement, params)


def _array_type(column_type: str) -> str:
    # JSON travels as text (what its bind processor made of it), then becomes json in the cast.
    return f"{column_type}[]"
