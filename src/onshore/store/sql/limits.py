"""Limits per organisation and key, and the price book, in SQL: the ``LimitsStore`` port.

Every change takes the next number of the ``limits`` change sequence (a ``change_counters`` row)
inside its own transaction, and commits together with its audit entry. Replicas poll that one
number (:meth:`SqlLimitsStore.limits_version`) and reload the whole snapshot only when it moved:
limits and prices are a few rows per partner, and admins change them rarely.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, Row, delete, select, update

from onshore.domain.audit import AuditEntry
from onshore.domain.limits import LIMIT_FIELDS, NO_LIMITS, Limits, Price, Scope, Tier, micro_to_krw
from onshore.ports import LimitsSnapshot, LimitsUpdate
from onshore.store.sql.audit import append_entries
from onshore.store.sql.errors import translate_errors
from onshore.store.sql.idempotent import insert_ignoring_duplicates
from onshore.store.sql.policies import LIMITS_SEQUENCE, all_policies, next_limits_version
from onshore.store.sql.schema import audit_log, change_counters, prices
from onshore.store.sql.schema import limits as limits_table

Clock = Callable[[], datetime]
_MICRO = 1_000_000

__all__ = ["LIMITS_SEQUENCE", "SqlLimitsStore", "krw_to_micro"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def krw_to_micro(krw: Decimal) -> int:
    """Won as integer micro-won, exactly.

    Raises:
        ValueError: ``krw`` has more than six decimal places or is not finite (the admin operations
            refuse such prices before they get here; the store never rounds a price silently).
    """
    if not krw.is_finite():
        raise ValueError(f"a price must be a finite number, not {krw}")
    micro = krw * _MICRO
    if micro != micro.to_integral_value():
        raise ValueError(f"a price has at most six decimal places: {krw}")
    return int(micro)


class SqlLimitsStore:
    """``LimitsStore`` on SQLAlchemy; each method is one short transaction, safe across threads.

    Args:
        engine: From :func:`onshore.store.sql.engine.make_engine`, already migrated.
        clock: Stamps ``updated_at`` and ``created_at`` (for people to read; nothing relies on them).
    """

    def __init__(self, engine: Engine, *, clock: Clock = _utcnow) -> None:
        self._engine = engine
        self._clock = clock
        self._audit_insert = insert_ignoring_duplicates(engine, audit_log)

    # --- limits ---------------------------------------------------------------------------------

    def get_limits(self, scope: Scope, subject_id: str) -> Limits:
        """The subject's limits; ``NO_LIMITS`` when none are set."""
        with translate_errors("reading limits"), self._engine.connect() as conn:
            return _read_limits(conn, scope, subject_id)

    def update_limits(
        self,
        scope: Scope,
        subject_id: str,
        changes: Mapping[str, int | Tier | None],
        audit_for: Callable[[Limits, Limits], AuditEntry | None],
        *,
        bound_by: str | None = None,
        check: Callable[[Limits], None] | None = None,
    ) -> LimitsUpdate:
        """Merge ``changes`` into the stored limits and write them with their audit entry, atomically.

        See ``LimitsStore.update_limits``. All None deletes the subject's row.
        """
        where = (limits_table.c.scope == scope.value, limits_table.c.subject_id == subject_id)
        with translate_errors("changing limits"), self._engine.connect() as conn, conn.begin() as tx:
            # The sequence row first: its lock (taken by the UPDATE, held until commit) queues every
            # other limits writer behind this one, so the rows read next cannot change before this
            # transaction ends. A row lock on the subject (SELECT ... FOR UPDATE) would not do: it
            # locks nothing when the subject has no row yet, and SQLite has no such clause, whereas
            # a write as the first statement takes SQLite's one write lock too.
            next_limits_version(conn)
            before = _read_limits(conn, scope, subject_id)
            org = None if bound_by is None else _read_limits(conn, Scope.ORG, bound_by)
            after = before.with_changes(changes)
            if check is not None:
                check(NO_LIMITS if org is None else org)
            if after == before:
                tx.rollback()  # gives the number back: nothing changed, nothing for replicas to reload
                return LimitsUpdate(before, after, org)
            if after.empty:
                conn.execute(delete(limits_table).where(*where))
            else:
                values = {**_limit_values(after), "updated_at": self._clock()}
                if conn.execute(update(limits_table).where(*where).values(**values)).rowcount == 0:
                    conn.execute(
                        limits_table.insert().values(scope=scope.value, subject_id=subject_id, **values)
                    )
            entry = audit_for(before, after)
            if entry is not None:
                append_entries(conn, self._audit_insert, [entry])
        return LimitsUpdate(before, after, org)

    # --- prices ---------------------------------------------------------------------------------

    def add_price(self, price: Price, audit: AuditEntry) -> Price:
        """Add ``price`` (replacing one for the same model and day) and append ``audit``, atomically.

        Raises:
            ValueError: a price has more than six decimal places (see :func:`krw_to_micro`).
        """
        values = _price_values(price)  # before the transaction: a bad value writes nothing
        where = (prices.c.model == price.model, prices.c.effective_from == price.effective_from)
        with translate_errors("setting a price"), self._engine.begin() as conn:
            next_limits_version(conn)
            values["created_at"] = self._clock()
            if conn.execute(update(prices).where(*where).values(**values)).rowcount == 0:
                conn.execute(
                    prices.insert().values(model=price.model, effective_from=price.effective_from, **values)
                )
            append_entries(conn, self._audit_insert, [audit])
        return price

    def list_prices(self) -> list[Price]:
        """Every stored price, by model then day."""
        with translate_errors("listing prices"), self._engine.connect() as conn:
            return _all_prices(conn)

    # --- what replicas poll ---------------------------------------------------------------------

    def limits_version(self) -> int:
        """The number of the newest change to a limit or a price (0 before any); one tiny query."""
        query = select(change_counters.c.value).where(change_counters.c.name == LIMITS_SEQUENCE)
        with translate_errors("reading the limits version"), self._engine.connect() as conn:
            value = conn.execute(query).scalar_one_or_none()
        return 0 if value is None else int(value)

    def limits_snapshot(self) -> LimitsSnapshot:
        """Every limit and price, and the change number they are at least as new as.

        The number is read first, in the same transaction: on PostgreSQL (read committed) a change
        committed between the statements may then be in the rows but not in the number, which
        only makes the next poll reload once more; the rows are never older than the number.
        """
        number = select(change_counters.c.value).where(change_counters.c.name == LIMITS_SEQUENCE)
        with translate_errors("reading limits and prices"), self._engine.begin() as conn:
            version = conn.execute(number).scalar_one_or_none()
            rows = conn.execute(select(limits_table)).all()
            price_list = _all_prices(conn)
            org_policies, key_policies = all_policies(conn)
        orgs = {row.subject_id: _limits(row) for row in rows if row.scope == Scope.ORG.value}
        keys = {row.subject_id: _limits(row) for row in rows if row.scope == Scope.KEY.value}
        return LimitsSnapshot(
            orgs=orgs,
            keys=keys,
            prices=tuple(price_list),
            version=0 if version is None else int(version),
            org_policies=org_policies,
            key_policies=key_policies,
        )


def _read_limits(conn: Connection, scope: Scope, subject_id: str) -> Limits:
    query = select(limits_table).where(
        limits_table.c.scope == scope.value, limits_table.c.subject_id == subject_id
    )
    row = conn.execute(query).first()
    return NO_LIMITS if row is None else _limits(row)


def _limit_values(value: Limits) -> dict[str, Any]:
    out: dict[str, Any] = {name: getattr(value, name) for name in LIMIT_FIELDS}
    out["tier"] = None if value.tier is None else value.tier.value
    return out


def _limits(row: Row[Any]) -> Limits:
    tier: Tier | None = None
    if row.tier is not None:
        # A tier this release does not know (written by a newer one during a rolling upgrade) is
        # read as none, so loading the snapshot never fails on it.
        tier = Tier(row.tier) if row.tier in Tier._value2member_map_ else None
    return Limits(
        **{name: None if getattr(row, name) is None else int(getattr(row, name)) for name in LIMIT_FIELDS},
        tier=tier,
    )


def _price_values(price: Price) -> dict[str, Any]:
    cached = price.cached_input_krw
    return {
        "input_micro_krw": krw_to_micro(price.input_krw),
        "output_micro_krw": krw_to_micro(price.output_krw),
        "cached_input_micro_krw": None if cached is None else krw_to_micro(cached),
    }


def _all_prices(conn: Connection) -> list[Price]:
    query = select(prices).order_by(prices.c.model, prices.c.effective_from)
    return [_price(row) for row in conn.execute(query)]


def _price(row: Row[Any]) -> Price:
    cached = row.cached_input_micro_krw
    return Price(
        model=row.model,
        effective_from=row.effective_from,
        input_krw=micro_to_krw(int(row.input_micro_krw)),
        output_krw=micro_to_krw(int(row.output_micro_krw)),
        cached_input_krw=None if cached is None else micro_to_krw(int(cached)),
    )
