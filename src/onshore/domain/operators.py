"""Operators: named people (or automations) with a role, and the tokens they sign in with.

A role is a fixed set of permissions; an operator may hold extra grants on top (``audit:read`` for
a billing operator who must read the audit log). Every admin API route and console page declares
the one permission it needs (``api/admin_permissions.py``, ``web/pages``).

Tokens are ``onshore-op-`` followed by 256 random bits, so secret scanners can recognise a leaked
one. Only their SHA-256 is stored. Not an HMAC with the key-digest secret, on purpose: with 256
random bits a stolen digest cannot be reversed by any amount of guessing (the secret adds nothing a
brute force could feel), and keeping the server secret out of it means rotating that secret never
locks out the operators who are rotating it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

OPERATOR_TOKEN_PREFIX = "onshore-op-"  # noqa: S105 - a prefix for scanners, not a secret
BREAK_GLASS_NAME = "admin"  # the legacy admin token's operator (admin.token_env)
BREAK_GLASS_TOKEN_ID = "break-glass"  # noqa: S105 - an id, not a secret
_TOKEN_BYTES = 32
_SHOWN = len(OPERATOR_TOKEN_PREFIX) + 6
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}\Z")

READ_PERMISSIONS = (
    "orgs:read",
    "keys:read",
    "limits:read",
    "policy:read",
    "prices:read",
    "usage:read",
    "residency:read",
    "audit:read",
    "invoices:read",
    "backends:read",
)
WRITE_PERMISSIONS = (
    "orgs:write",
    "keys:write",
    "limits:write",
    "policy:write",
    "prices:write",
    "invoices:write",
)
OPERATOR_PERMISSIONS = ("operators:read", "operators:write")
PERMISSIONS = frozenset(READ_PERMISSIONS + WRITE_PERMISSIONS + OPERATOR_PERMISSIONS)

ROLES: dict[str, frozenset[str]] = {
    "admin": PERMISSIONS,
    # Prices, usage and invoices, read and write; organisations and keys to know whom they bill.
    "billing": frozenset(
        {
            "prices:read",
            "prices:write",
            "usage:read",
            "invoices:read",
            "invoices:write",
            "orgs:read",
            "keys:read",
        }
    ),
    # Everything an audit reads, nothing that writes; who holds access is the admins' business.
    "auditor": frozenset(READ_PERMISSIONS),
}


@dataclass(frozen=True, slots=True)
class Operator:
    id: str
    name: str
    role: str
    grants: tuple[str, ...]  # permissions beyond the role's
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def permissions(self) -> frozenset[str]:
        return ROLES.get(self.role, frozenset()) | frozenset(self.grants)


@dataclass(frozen=True, slots=True)
class OperatorToken:
    """A token as stored: its SHA-256 and the first characters people can tell tokens apart by."""

    id: str
    operator_id: str
    digest: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

    def is_active(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling the admin API or using the console, after authentication."""

    name: str
    role: str
    permissions: frozenset[str]
    token_id: str  # BREAK_GLASS_TOKEN_ID for the legacy admin token
    expires_at: datetime | None = None

    @property
    def actor(self) -> str:
        """The audit trail's name for what this operator does."""
        return f"operator:{self.name}"

    def may(self, permission: str) -> bool:
        return permission in self.permissions


BREAK_GLASS = Caller(BREAK_GLASS_NAME, "admin", PERMISSIONS, BREAK_GLASS_TOKEN_ID)


def caller_for(operator: Operator, token: OperatorToken) -> Caller:
    return Caller(operator.name, operator.role, operator.permissions, token.id, token.expires_at)


def new_operator_token() -> str:
    return OPERATOR_TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def looks_like_operator_token(value: str) -> bool:
    return value.startswith(OPERATOR_TOKEN_PREFIX) and 30 < len(value) < 200


def shown_token_prefix(token: str) -> str:
    return token[:_SHOWN]


def new_operator_id() -> str:
    return "op_" + secrets.token_hex(8)


def new_token_id() -> str:
    return "opt_" + secrets.token_hex(8)


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name an operator, or None."""
    if not _NAME.match(name):
        return "operator names are 1-64 characters: lower-case letters, digits, '.', '_' or '-'"
    if name == BREAK_GLASS_NAME:
        return f"{BREAK_GLASS_NAME!r} is the break-glass operator of the admin token; choose another name"
    return None


def grant_problem(grants: tuple[str, ...]) -> str | None:
    unknown = sorted(set(grants) - PERMISSIONS)
    if unknown:
        return f"unknown permission {unknown[0]!r}: use one of {', '.join(sorted(PERMISSIONS))}"
    return None
