"""Roles, permissions and operator tokens (onshore.domain.operators)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from onshore.domain.operators import (
    BREAK_GLASS,
    OPERATOR_TOKEN_PREFIX,
    PERMISSIONS,
    READ_PERMISSIONS,
    ROLES,
    Operator,
    OperatorToken,
    caller_for,
    grant_problem,
    looks_like_operator_token,
    name_problem,
    new_operator_token,
    token_digest,
)

NOW = datetime(2026, 12, 7, tzinfo=UTC)


def test_an_auditor_reads_everything_but_writes_nothing() -> None:
    auditor = ROLES["auditor"]
    assert {"audit:read", "residency:read", "usage:read", "orgs:read", "keys:read"} <= auditor
    assert {"limits:read", "policy:read"} <= auditor
    assert not any(p.endswith(":write") for p in auditor)
    assert "operators:read" not in auditor


def test_billing_writes_prices_and_invoices_and_cannot_read_the_audit_log() -> None:
    billing = ROLES["billing"]
    assert {"prices:write", "invoices:write", "usage:read", "orgs:read", "keys:read"} <= billing
    assert "audit:read" not in billing
    assert not {"keys:write", "orgs:write", "limits:write", "policy:write"} & billing


def test_a_grant_adds_to_the_role() -> None:
    op = Operator("op_1", "bea", "billing", ("audit:read",), NOW)
    assert "audit:read" in op.permissions and "prices:write" in op.permissions
    assert grant_problem(("audit:read",)) is None
    assert grant_problem(("audit:delete",)) is not None


def test_admin_holds_every_permission() -> None:
    assert ROLES["admin"] == PERMISSIONS and BREAK_GLASS.permissions == PERMISSIONS
    assert set(READ_PERMISSIONS) < PERMISSIONS
    assert BREAK_GLASS.actor == "operator:admin"


def test_tokens_are_recognisable_random_and_stored_only_as_sha256() -> None:
    first, second = new_operator_token(), new_operator_token()
    assert first.startswith(OPERATOR_TOKEN_PREFIX) and first != second
    assert len(first) >= len(OPERATOR_TOKEN_PREFIX) + 43  # 256 bits, base64url
    assert looks_like_operator_token(first) and not looks_like_operator_token("sk-onshore-" + "x" * 43)
    digest = token_digest(first)
    assert len(digest) == 64 and first not in digest


def test_a_caller_carries_its_operator_name_and_token() -> None:
    op = Operator("op_1", "alice", "auditor", (), NOW)
    token = OperatorToken("opt_1", "op_1", "d", "onshore-op-abc", NOW, NOW + timedelta(days=1))
    caller = caller_for(op, token)
    assert caller.actor == "operator:alice" and caller.token_id == "opt_1"
    assert caller.may("audit:read") and not caller.may("keys:write")
    assert token.is_active(NOW) and not token.is_active(NOW + timedelta(days=2))


def test_names_are_checked_and_admin_is_reserved() -> None:
    assert name_problem("alice") is None and name_problem("ci-bot.1") is None
    assert name_problem("admin") is not None
    assert name_problem("Alice") is not None and name_problem("") is not None
    assert name_problem("a" * 65) is not None and name_problem("x\n") is not None
