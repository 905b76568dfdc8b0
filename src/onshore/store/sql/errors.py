"""The one place SQLAlchemy and driver exceptions become ``onshore.ports.StoreError``.

Messages are fixed strings: driver messages carry host names, ports and SQL, which must not reach
a client or a readiness answer. The original exception stays chained (``__cause__``) for the log.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from onshore.ports import StoreError

# SQLSTATE for unique_violation; psycopg exposes it as ``sqlstate`` on the driver exception.
_PG_UNIQUE_VIOLATION = "23505"


def is_unique_violation(exc: IntegrityError) -> bool:
    """True when ``exc`` is a duplicate key (as opposed to a foreign key or NOT NULL failure)."""
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate is not None:
        return bool(sqlstate == _PG_UNIQUE_VIOLATION)
    # sqlite3 has no SQLSTATE; its messages are stable ("UNIQUE constraint failed: t.c").
    message = str(orig)
    return "UNIQUE constraint failed" in message or "PRIMARY KEY" in message


@contextmanager
def translate_errors(action: str) -> Iterator[None]:
    """Re-raise any SQLAlchemy error inside the block as ``StoreError("<action> failed ...")``."""
    try:
        yield
    except StoreError:
        raise
    except SQLAlchemyError as exc:
        raise StoreError(f"{action} failed: the database is unavailable or refused the operation") from exc
