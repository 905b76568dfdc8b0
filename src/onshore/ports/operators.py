"""Operators and their tokens (durable, in SQL); see ``onshore.domain.operators``."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from onshore.domain.audit import AuditEntry
from onshore.domain.operators import Operator, OperatorToken


class OperatorStore(Protocol):
    """Every change commits with its audit entry, in one transaction."""

    def create_operator(self, operator: Operator, token: OperatorToken, audit: AuditEntry) -> None:
        """Raises ``AlreadyExists`` when the name is taken."""
        ...

    def add_token(self, token: OperatorToken, audit: AuditEntry) -> None: ...
    def list_operators(self) -> list[Operator]: ...
    def get_operator_by_name(self, name: str) -> Operator | None: ...
    def list_tokens(self, operator_id: str | None = None) -> list[OperatorToken]: ...

    def find_token(self, digest: str) -> tuple[Operator, OperatorToken] | None:
        """The token with this SHA-256 and its operator, revoked or not (the caller decides)."""
        ...

    def get_token(self, token_id: str) -> tuple[Operator, OperatorToken] | None: ...

    def revoke_operator(self, operator_id: str, at: datetime, audit: AuditEntry) -> Operator | None:
        """Revoke the operator and every token of theirs (the first ``revoked_at`` stays)."""
        ...

    def revoke_token(self, token_id: str, at: datetime, audit: AuditEntry) -> OperatorToken | None: ...
