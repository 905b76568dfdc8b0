"""Ledger rows into SQL in bulk, with as little Python per row as the drivers allow.

**Rows as tuples** (``RowValues``): one C-level ``attrgetter`` call per record and the column's own
bind processing (UtcDateTime to UTC, JSON to text, ...) only for the columns that have one. Through
SQLAlchemy's compiled insert every row was a dict of 21 ``getattr``s, then a per-row
``construct_params`` pass over every column. Measured (process time, 10,000 rows in batches of 500
on SQLite, three runs each, a shared 2-core machine): 46-54 µs a row before, 41-43 µs after; about
22 µs of what is left is SQLite's row-level rollup trigger (``rollup_triggers.py``), most of the
rest SQLite's insert itself.

**PostgreSQL: one statement per batch**, ``INSERT … SELECT FROM unnest(arrays)``. The hourly rollup is
kept by a statement-level trigger (``store/sql/rollup_triggers.py``), which runs once per statement.
An executemany sends one INSERT per row, so the trigger (one upsert into the rollup) would run per
row too: measured on 10,000 rows in batches of 500, 4x the cost of the insert alone. One statement
per batch runs it once per batch: the insert with the rollup then costs about what the executemany
alone did (``benchmarks/dashboard_bench.py --insert-cost``). One array per column, typed by a cast
to the column's type, so what a value may be is what the executemany allowed: psycopg refuses a NUL
byte before sending, the database a number out of range (both ``RecordsRefused`` through
``translate_write_errors``).

**SQLite: the driver's executemany** of a positional insert (its trigger is row-level anyway and its
inserts are in-process).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import attrgetter
from typing import Any

from sqlalchemy import Connection, Dialect, Table, TextClause, text

from onshore.store.setaside import RecordsRefused

Processor = Callable[[Any], Any]


class RowValues:
    """Records (objects with an attribute per column) as lists of column values, ready for the
    driver: each value through its column's bind processor, and ``adjust``'s function first where
    one is given (the ledger bounds the client's request id)."""

    def __init__(self, table: Table, dialect: Dialect, adjust: Mapping[str, Processor] | None = None) -> None:
        self.names = tuple(column.name for column in table.columns)
        self._get: Callable[[object], tuple[Any, ...]] = attrgetter(*self.names)
        steps: list[tuple[int, Processor]] = []
        for index, column in enumerate(table.columns):
            process: Processor | None = column.type.dialect_impl(dialect).bind_processor(dialect)
            before = (adjust or {}).get(column.name)
            if before is not None:
                process = before if process is None else _then(before, process)
            if process is not None:
                steps.append((index, process))
        self._steps = tuple(steps)

    def __call__(self, records: Iterable[object]) -> list[list[Any]]:
        """Raises ``RecordsRefused`` when a value cannot be bound (a naive ``datetime`` is fine; an
        object JSON cannot encode is not), as SQLAlchemy's own binding did."""
        get, steps = self._get, self._steps
        rows: list[list[Any]] = []
        try:
            for record in records:
                values = list(get(record))
                for index, process in steps:
                    values[index] = process(values[index])
                rows.append(values)
        except (ValueError, TypeError) as exc:
            raise RecordsRefused(
                "writing usage records failed: a value cannot be stored", type(exc).__name__
            ) from exc
        return rows


def _then(first: Processor, second: Processor) -> Processor:
    return lambda value: second(first(value))


class SqliteBatchInsert:
    """``INSERT INTO table (…) VALUES (?, …) ON CONFLICT (primary key) DO NOTHING``, executemany."""

    def __init__(self, table: Table, names: Sequence[str]) -> None:
        keys = ", ".join(column.name for column in table.primary_key.columns)
        marks = ", ".join("?" for _ in names)
        self._sql = (
            f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks}) "  # noqa: S608 - the table's own names, no input
            f"ON CONFLICT ({keys}) DO NOTHING"
        )

    def execute(self, conn: Connection, rows: Sequence[Sequence[Any]]) -> None:
        conn.exec_driver_sql(self._sql, [tuple(row) for row in rows])


class PgBatchInsert:
    """``INSERT INTO table (…) SELECT * FROM unnest(…) ON CONFLICT (primary key) DO NOTHING``."""

    def __init__(self, table: Table, dialect: Dialect) -> None:
        self._names = [column.name for column in table.columns]
        arrays = ", ".join(
            f"CAST(:{name} AS {_array_type(column.type.compile(dialect=dialect))})"
            for name, column in zip(self._names, table.columns, strict=True)
        )
        keys = ", ".join(column.name for column in table.primary_key.columns)
        self._statement: TextClause = text(
            f"INSERT INTO {table.name} ({', '.join(self._names)}) SELECT * FROM unnest({arrays}) "  # noqa: S608 - the table's own names, no input
            f"ON CONFLICT ({keys}) DO NOTHING"
        )

    def execute(self, conn: Connection, rows: Sequence[Sequence[Any]]) -> None:
        """Insert ``rows`` (``RowValues``' lists, processed) in one statement; stored keys are skipped."""
        columns = zip(*rows, strict=True)
        conn.execute(
            self._statement, {name: list(values) for name, values in zip(self._names, columns, strict=True)}
        )


def _array_type(column_type: str) -> str:
    # JSON travels as text (what its bind processor made of it), then becomes json in the cast.
    return f"{column_type}[]"
