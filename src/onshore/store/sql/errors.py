"""The one place SQLAlchemy and driver exceptions become ``onshore.ports.StoreError``.

Batch writers use :func:`translate_write_errors`, which also tells the caller when the database
refused the data itself (``RecordsRefused``), so one bad row can be set aside instead of retried.

Messages are fixed strings: driver messages carry host names, ports and SQL, which must not reach
a client or a readiness answer. The original exception stays chained (``__cause__``) for the log.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError, StatementError

from onshore.ports import StoreError
from onshore.store.setaside import RecordsRefused

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


def _reason(exc: BaseException) -> str:
    # The driver's own class says the most (psycopg's NotNullViolation, StringDataRightTruncation).
    orig = getattr(exc, "orig", None)
    return type(orig if isinstance(orig, BaseException) else exc).__name__


@contextmanager
def translate_write_errors(action: str) -> Iterator[None]:
    """Like :func:`translate_errors`, but tells an outage from a refusal of the data itself.

    ``RecordsRefused`` (the same rows will fail again on every retry): a ``DataError`` (a NUL byte
    in a PostgreSQL text column, a number out of range, a string too long), an ``IntegrityError``
    other than a duplicate key (NOT NULL, a check), a value the driver or a column type cannot
    encode (``ValueError``/``TypeError``, e.g. a lone surrogate). Everything else, a duplicate key
    included, is a ``StoreError``: the database is unavailable and a retry may succeed.
    """
    try:
        yield
    except StoreError:
        raise
    except DataError as exc:
        raise RecordsRefused(f"{action} failed: the database refused the data", _reason(exc)) from exc
    except IntegrityError as exc:
        if is_unique_violation(exc):
            raise StoreError(f"{action} failed: a duplicate key") from exc
        raise RecordsRefused(f"{action} failed: the database refused the data", _reason(exc)) from exc
    except StatementError as exc:
        if isinstance(exc, DBAPIError) or not isinstance(exc.orig, ValueError | TypeError):
            raise StoreError(
                f"{action} failed: the database is unavailable or refused the operation"
            ) from exc
        # Raised while binding parameters, before anything reached the database.
        raise RecordsRefused(f"{action} failed: a value cannot be stored", _reason(exc)) from exc
    except SQLAlchemyError as exc:
        raise StoreError(f"{action} failed: the database is unavailable or refused the operation") from exc
    except (ValueError, TypeError) as exc:
        raise RecordsRefused(f"{action} failed: a value cannot be stored", type(exc).__name__) from exc
