"""Operators and their tokens in SQL: the ``OperatorStore`` port on SQLAlchemy Core."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, select, update
from sqlalchemy.exc import IntegrityError

from onshore.domain.audit import AuditEntry
from onshore.domain.operators import Operator, OperatorToken
from onshore.ports import AlreadyExists
from onshore.store.sql.audit import append_entries
from onshore.store.sql.errors import is_unique_violation, translate_errors
from onshore.store.sql.idempotent import insert_ignoring_duplicates
from onshore.store.sql.schema import audit_log
from onshore.store.sql.schema_operators import operator_tokens, operators

__all__ = ["SqlOperatorStore"]


class SqlOperatorStore:
    """``OperatorStore`` on SQLAlchemy; every method is its own short transaction (thread-safe)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._audit_insert = insert_ignoring_duplicates(engine, audit_log)

    def create_operator(self, operator: Operator, token: OperatorToken, audit: AuditEntry) -> None:
        with translate_errors("creating an operator"), self._engine.begin() as conn:
            try:
                conn.execute(operators.insert().values(**_operator_values(operator)))
            except IntegrityError as exc:
                if is_unique_violation(exc):
                    raise AlreadyExists(f"an operator named {operator.name!r} already exists") from exc
                raise
            conn.execute(operator_tokens.insert().values(**_token_values(token)))
            append_entries(conn, self._audit_insert, [audit])

    def add_token(self, token: OperatorToken, audit: AuditEntry) -> None:
        with translate_errors("adding an operator token"), self._engine.begin() as conn:
            conn.execute(operator_tokens.insert().values(**_token_values(token)))
            append_entries(conn, self._audit_insert, [audit])

    def list_operators(self) -> list[Operator]:
        query = select(operators).order_by(operators.c.created_at, operators.c.name)
        with translate_errors("listing operators"), self._engine.connect() as conn:
            return [_operator(row) for row in conn.execute(query)]

    def get_operator_by_name(self, name: str) -> Operator | None:
        with translate_errors("reading an operator"), self._engine.connect() as conn:
            row = conn.execute(select(operators).where(operators.c.name == name)).first()
        return None if row is None else _operator(row)

    def list_tokens(self, operator_id: str | None = None) -> list[OperatorToken]:
        query = select(operator_tokens).order_by(operator_tokens.c.created_at, operator_tokens.c.id)
        if operator_id is not None:
            query = query.where(operator_tokens.c.operator_id == operator_id)
        with translate_errors("listing operator tokens"), self._engine.connect() as conn:
            return [_token(row) for row in conn.execute(query)]

    def find_token(self, digest: str) -> tuple[Operator, OperatorToken] | None:
        return self._token_with_operator(operator_tokens.c.digest == digest)

    def get_token(self, token_id: str) -> tuple[Operator, OperatorToken] | None:
        return self._token_with_operator(operator_tokens.c.id == token_id)

    def _token_with_operator(self, condition: Any) -> tuple[Operator, OperatorToken] | None:
        with translate_errors("reading an operator token"), self._engine.connect() as conn:
            token_row = conn.execute(select(operator_tokens).where(condition)).first()
            if token_row is None:
                return None
            op_row = conn.execute(select(operators).where(operators.c.id == token_row.operator_id)).first()
        return None if op_row is None else (_operator(op_row), _token(token_row))

    def revoke_operator(self, operator_id: str, at: datetime, audit: AuditEntry) -> Operator | None:
        with translate_errors("revoking an operator"), self._engine.begin() as conn:
            _revoke(conn, operators, operators.c.id == operator_id, at)
            _revoke(conn, operator_tokens, operator_tokens.c.operator_id == operator_id, at)
            row = conn.execute(select(operators).where(operators.c.id == operator_id)).first()
            if row is None:
                return None
            append_entries(conn, self._audit_insert, [audit])
        return _operator(row)

    def revoke_token(self, token_id: str, at: datetime, audit: AuditEntry) -> OperatorToken | None:
        with translate_errors("revoking an operator token"), self._engine.begin() as conn:
            _revoke(conn, operator_tokens, operator_tokens.c.id == token_id, at)
            row = conn.execute(select(operator_tokens).where(operator_tokens.c.id == token_id)).first()
            if row is None:
                return None
            append_entries(conn, self._audit_insert, [audit])
        return _token(row)


def _revoke(conn: Connection, table: Any, condition: Any, at: datetime) -> None:
    # Revoking twice keeps the first moment, the one an audit asks about.
    conn.execute(update(table).where(condition, table.c.revoked_at.is_(None)).values(revoked_at=at))


def _operator_values(operator: Operator) -> dict[str, Any]:
    return {
        "id": operator.id,
        "name": operator.name,
        "role": operator.role,
        "grants": list(operator.grants),
        "created_at": operator.created_at,
        "revoked_at": operator.revoked_at,
    }


def _token_values(token: OperatorToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "operator_id": token.operator_id,
        "digest": token.digest,
        "prefix": token.prefix,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
    }


def _operator(row: Row[Any]) -> Operator:
    return Operator(
        id=row.id,
        name=row.name,
        role=row.role,
        grants=tuple(row.grants or ()),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def _token(row: Row[Any]) -> OperatorToken:
    return OperatorToken(
        id=row.id,
        operator_id=row.operator_id,
        digest=row.digest,
        prefix=row.prefix,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )
