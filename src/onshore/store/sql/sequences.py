"""The change-counter rows (``change_counters``): one number per sequence, taken under a row lock.

Taking a number is an UPDATE of the sequence's row, whose lock is held to the end of the writing
transaction: writers of one sequence queue there, so numbers become visible in the order they were
taken (a PostgreSQL SEQUENCE does not promise that) and what a writer reads after taking one cannot
change under it. Used by the key changes (``api_keys``), the limits, prices and policies
(``limits``) and the audit chain (``audit``, bumped by 0: only the lock is wanted).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, select, update

from onshore.store.sql.idempotent import insert_ignoring_duplicates
from onshore.store.sql.schema import change_counters


def _zero(_conn: Connection) -> int:
    return 0


def take_next(conn: Connection, name: str, *, by: int = 1, seed: Callable[[Connection], int] = _zero) -> int:
    """Add ``by`` to sequence ``name`` (0: just take its lock) and return its value; the row stays
    locked until ``conn``'s transaction ends.

    A missing row (a schema built without the migrations, or emptied by hand) is made with
    ``seed(conn)``, e.g. above every number already in use; writers racing here insert once and the
    others wait on the new row.
    """
    c = change_counters.c
    bump = update(change_counters).where(c.name == name).values(value=c.value + by)
    if conn.execute(bump).rowcount == 0:
        insert = insert_ignoring_duplicates(conn.engine, change_counters)
        conn.execute(insert, [{"name": name, "value": seed(conn)}])
        conn.execute(bump)
    return int(conn.execute(select(c.value).where(c.name == name)).scalar_one())
