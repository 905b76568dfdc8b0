"""Create, list and revoke operators and issue their tokens; their JSON form for the CLI and the API.

The token exists only in the result of ``create_operator`` and ``issue_token``: it is printed (or
returned) once, and only its SHA-256 is stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from onshore.admin.tenancy import parse_duration
from onshore.domain.audit import AuditEntry
from onshore.domain.operators import (
    ROLES,
    Operator,
    OperatorToken,
    grant_problem,
    name_problem,
    new_operator_id,
    new_operator_token,
    new_token_id,
    shown_token_prefix,
    token_digest,
)
from onshore.errors import Conflict, InvalidRequest, NotFound
from onshore.ports import AlreadyExists, OperatorStore


@dataclass(frozen=True, slots=True)
class NewToken:
    operator: Operator
    token: OperatorToken
    secret: str  # the only moment it exists outside the operator's hands


def create_operator(
    store: OperatorStore,
    name: str,
    role: str,
    *,
    grants: Iterable[str] = (),
    expires_in: str | None = None,
    actor: str,
    now: datetime | None = None,
) -> NewToken:
    """A new operator and their first token, audited as ``operator.create``.

    Raises:
        InvalidRequest: a bad name, role, grant or duration.
        Conflict: the name is taken.
    """
    problem = name_problem(name)
    if problem is not None:
        raise InvalidRequest(problem, param="name")
    if role not in ROLES:
        raise InvalidRequest(f"unknown role {role!r}: use {', '.join(ROLES)}", param="role")
    granted = tuple(sorted(set(grants)))
    problem = grant_problem(granted)
    if problem is not None:
        raise InvalidRequest(problem, param="grants")
    moment = now or datetime.now(UTC)
    operator = Operator(new_operator_id(), name, role, granted, moment)
    token, secret = _new_token(operator, expires_in, moment)
    audit = AuditEntry.create(
        actor=actor,
        action="operator.create",
        target_type="operator",
        target_id=operator.id,
        detail={"name": name, "role": role, "grants": list(granted), **_token_detail(token)},
        at=moment,
    )
    try:
        store.create_operator(operator, token, audit)
    except AlreadyExists:
        raise Conflict(f"an operator named {name!r} already exists", param="name") from None
    return NewToken(operator, token, secret)


def issue_token(
    store: OperatorStore, name: str, *, expires_in: str | None = None, actor: str, now: datetime | None = None
) -> NewToken:
    """One more token for an operator (to rotate: issue, switch, then revoke the old one)."""
    operator = require_operator(store, name)
    if operator.revoked_at is not None:
        raise Conflict(f"operator {name!r} is revoked", param="name")
    moment = now or datetime.now(UTC)
    token, secret = _new_token(operator, expires_in, moment)
    audit = AuditEntry.create(
        actor=actor,
        action="operator.token",
        target_type="operator",
        target_id=operator.id,
        detail={"name": name, **_token_detail(token)},
        at=moment,
    )
    store.add_token(token, audit)
    return NewToken(operator, token, secret)


def revoke(
    store: OperatorStore, name: str, *, token_id: str | None = None, actor: str, now: datetime | None = None
) -> tuple[Operator, list[OperatorToken]]:
    """Revoke the operator and all their tokens, or only ``token_id``; returns the operator and the
    tokens as they stand after."""
    operator = require_operator(store, name)
    moment = now or datetime.now(UTC)
    if token_id is None:
        audit = AuditEntry.create(
            actor=actor,
            action="operator.revoke",
            target_type="operator",
            target_id=operator.id,
            detail={"name": name},
            at=moment,
        )
        operator = store.revoke_operator(operator.id, moment, audit) or operator
    else:
        if not any(t.id == token_id for t in store.list_tokens(operator.id)):
            raise NotFound(f"operator {name!r} has no token {token_id!r}", param="token")
        audit = AuditEntry.create(
            actor=actor,
            action="operator.token_revoke",
            target_type="operator",
            target_id=operator.id,
            detail={"name": name, "token": token_id},
            at=moment,
        )
        store.revoke_token(token_id, moment, audit)
    return operator, store.list_tokens(operator.id)


def list_operators(store: OperatorStore) -> list[tuple[Operator, list[OperatorToken]]]:
    tokens: dict[str, list[OperatorToken]] = {}
    for token in store.list_tokens():
        tokens.setdefault(token.operator_id, []).append(token)
    return [(op, tokens.get(op.id, [])) for op in store.list_operators()]


def require_operator(store: OperatorStore, name: str) -> Operator:
    operator = store.get_operator_by_name(name)
    if operator is None:
        raise NotFound(f"no operator named {name!r}", param="name")
    return operator


def operator_json(operator: Operator, tokens: Iterable[OperatorToken]) -> dict[str, Any]:
    return {
        "object": "operator",
        "id": operator.id,
        "name": operator.name,
        "role": operator.role,
        "grants": list(operator.grants),
        "permissions": sorted(operator.permissions),
        "created_at": int(operator.created_at.timestamp()),
        "revoked_at": _stamp(operator.revoked_at),
        "tokens": [token_json(t) for t in tokens],
    }


def token_json(token: OperatorToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "prefix": token.prefix,
        "created_at": int(token.created_at.timestamp()),
        "expires_at": _stamp(token.expires_at),
        "revoked_at": _stamp(token.revoked_at),
    }


def _new_token(operator: Operator, expires_in: str | None, moment: datetime) -> tuple[OperatorToken, str]:
    secret = new_operator_token()
    expires_at = moment + parse_duration(expires_in) if expires_in else None
    token = OperatorToken(
        new_token_id(), operator.id, token_digest(secret), shown_token_prefix(secret), moment, expires_at
    )
    return token, secret


def _token_detail(token: OperatorToken) -> dict[str, Any]:
    # Never the token nor its digest: what an auditor needs to tell tokens apart.
    expires = token.expires_at.isoformat() if token.expires_at else None
    return {"token": token.id, "prefix": token.prefix, "expires_at": expires}


def _stamp(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())
