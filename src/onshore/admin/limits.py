"""Set, show and clear the limits of an organisation or a key; their JSON form for the CLI and the admin API.

An organisation is named by its name, a key by its id. A key is bound by its own limits and its
organisation's at once, so ``show`` gives a key's effective limits too (the smaller of each pair) and
its organisation's tier. A key's limit may not be set above its organisation's: such a limit would
never bind, and an operator who types it almost always meant something else. Lowering an
organisation's limit below some key's is allowed (the key is then held to the organisation's).

Every change writes one audit entry in the transaction that makes it (``limits.set``,
``limits.clear``), naming the fields changed with their old and new values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from onshore.admin.tenancy import require_subject
from onshore.domain.audit import AuditEntry
from onshore.domain.limits import LIMIT_FIELDS, Limits, Scope, Tier
from onshore.domain.tenancy import ApiKey, Organisation
from onshore.errors import InvalidRequest
from onshore.ports import LimitsStore, TenancyStore

ALL_FIELDS: tuple[str, ...] = (*LIMIT_FIELDS, "tier")
# Counters are kept exactly in a Redis script's doubles: counts up to 2**53, and budgets in milli-won,
# so at most 9 trillion won a month (far above any contract, and refused clearly rather than wrapped).
MAX_COUNT = 2**53 - 1
MAX_BUDGET_KRW = 9_000_000_000_000
_TIERS = ", ".join(t.value for t in Tier)

Change = int | Tier | None


@dataclass(frozen=True, slots=True)
class LimitsView:
    """One subject's limits as ``show`` presents them."""

    scope: Scope
    org: Organisation
    key: ApiKey | None
    limits: Limits  # the subject's own
    org_limits: Limits | None = None  # a key's organisation's (None for an organisation)

    @property
    def effective(self) -> Limits | None:
        """A key's limits as enforced: the smaller of its own and its organisation's, and the
        organisation's tier (``standard`` when none is set). None for an organisation."""
        if self.org_limits is None:
            return None
        own, org = self.limits, self.org_limits
        values: dict[str, Change] = {
            name: _smaller(getattr(own, name), getattr(org, name)) for name in LIMIT_FIELDS
        }
        values["tier"] = org.tier or Tier.STANDARD
        return Limits().with_changes(values)


def _smaller(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    return a if b is None else min(a, b)


# --- operations ---------------------------------------------------------------------------------


def show_limits(tenancy: TenancyStore, store: LimitsStore, scope: Scope | str, subject: str) -> LimitsView:
    """The subject's limits (and, for a key, its organisation's and the effective ones).

    Raises:
        NotFound: no organisation by that name, or no key with that id.
    """
    scope, org, key = require_subject(tenancy, scope, subject)
    own = store.get_limits(scope, key.id if key is not None else org.id)
    org_limits = store.get_limits(Scope.ORG, org.id) if key is not None else None
    return LimitsView(scope, org, key, own, org_limits)


def set_limits(
    tenancy: TenancyStore,
    store: LimitsStore,
    scope: Scope | str,
    subject: str,
    changes: Mapping[str, object],
    *,
    actor: str = "system",
) -> LimitsView:
    """Apply ``changes`` (field -> a whole number >= 0, a tier name, or None to clear) and audit them.

    Fields not named keep their value, as they stand when the change is written (the store merges
    inside its transaction, so concurrent changes to other fields are kept). A key's new limits are
    checked against its organisation's as read in that same transaction. When nothing would change,
    nothing is written (no entry, no change for the replicas to reload).

    Raises:
        NotFound: no such organisation or key.
        InvalidRequest: an unknown field, a value that is not a whole number >= 0 (or too large),
            a tier on a key or an unknown tier, or a key's limit above its organisation's.
    """
    scope, org, key = require_subject(tenancy, scope, subject)
    parsed = {name: _parse(scope, name, value) for name, value in changes.items()}
    action = "limits.clear" if all(v is None for v in parsed.values()) else "limits.set"

    def within_org(org_limits: Limits) -> None:
        _check_within_org(parsed, org_limits)

    return _update(store, scope, org, key, parsed, action, actor, check=within_org if key else None)


def clear_limits(
    tenancy: TenancyStore,
    store: LimitsStore,
    scope: Scope | str,
    subject: str,
    names: Iterable[str] | None = None,
    *,
    actor: str = "system",
) -> LimitsView:
    """Remove the named limits (every one when ``names`` is None or empty) and audit it.

    Raises:
        NotFound: no such organisation or key.
        InvalidRequest: an unknown field, or ``tier`` for a key.
    """
    scope, org, key = require_subject(tenancy, scope, subject)
    wanted = list(dict.fromkeys(names or ()))
    for name in wanted:
        _check_field(scope, name)
    fields = wanted or [n for n in ALL_FIELDS if scope is Scope.ORG or n != "tier"]
    # Nothing set: nothing to announce, no entry to write (the store skips an unchanged subject).
    return _update(store, scope, org, key, dict.fromkeys(fields), "limits.clear", actor)


def _update(
    store: LimitsStore,
    scope: Scope,
    org: Organisation,
    key: ApiKey | None,
    changes: Mapping[str, Change],
    action: str,
    actor: str,
    *,
    check: Callable[[Limits], None] | None = None,
) -> LimitsView:
    subject_id = key.id if key is not None else org.id

    def audit_for(old: Limits, new: Limits) -> AuditEntry:
        before, after = old.as_dict(), new.as_dict()
        changed = {
            name: {"from": before[name], "to": after[name]}
            for name in ALL_FIELDS
            if before[name] != after[name]
        }
        return AuditEntry.create(
            actor=actor,
            action=action,
            target_type="api_key" if key is not None else "organisation",
            target_id=subject_id,
            org_id=org.id,
            detail={"scope": scope.value, "changes": changed},
        )

    result = store.update_limits(
        scope, subject_id, changes, audit_for, bound_by=org.id if key is not None else None, check=check
    )
    return LimitsView(scope, org, key, result.after, result.org)


# --- validation ---------------------------------------------------------------------------------


def _check_field(scope: Scope, name: str) -> None:
    if name not in ALL_FIELDS:
        raise InvalidRequest(f"unknown limit {name!r}: use one of {', '.join(ALL_FIELDS)}", param=name)
    if name == "tier" and scope is Scope.KEY:
        raise InvalidRequest("a tier is set on the organisation, not on a key", param="tier")


def _parse(scope: Scope, name: str, value: object) -> Change:
    _check_field(scope, name)
    if value is None:
        return None
    if name == "tier":
        try:
            return Tier(value) if isinstance(value, str) else Tier(str(value))
        except ValueError:
            raise InvalidRequest(f"unknown tier {value!r}: use one of {_TIERS}", param="tier") from None
    # A JSON number with a zero fraction (2475.0) is the whole number JSON Schema's "integer" allows.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    # bool is an int in Python, and `true` is never a limit anyone meant.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"{name} must be a whole number >= 0", param=name)
    bound = MAX_BUDGET_KRW if name == "monthly_budget_krw" else MAX_COUNT
    if not 0 <= value <= bound:
        raise InvalidRequest(f"{name} must be a whole number from 0 to {bound:,}", param=name)
    return value


def _check_within_org(changes: Mapping[str, Change], org: Limits) -> None:
    for name, value in changes.items():
        ceiling = getattr(org, name) if name in LIMIT_FIELDS else None
        if isinstance(value, int) and ceiling is not None and value > ceiling:
            raise InvalidRequest(
                f"{name} {value} is above the organisation's {name} {ceiling}: a key's limit cannot "
                "exceed its organisation's",
                param=name,
            )


# --- JSON ---------------------------------------------------------------------------------------


def limits_json(view: LimitsView) -> dict[str, Any]:
    """The public shape of a subject's limits (admin API and ``onshore limits show --json``).

    ``limits`` holds the subject's own (null: no limit of that kind); for a key, ``org_limits`` its
    organisation's and ``effective`` what is enforced. Fields are only ever added, never renamed.
    """
    out: dict[str, Any] = {
        "object": "limits",
        "scope": view.scope.value,
        "org": view.org.name,
        "org_id": view.org.id,
    }
    if view.key is not None:
        out["key_id"] = view.key.id
    out["limits"] = view.limits.as_dict()
    effective = view.effective
    if view.org_limits is not None and effective is not None:
        out["org_limits"] = view.org_limits.as_dict()
        out["effective"] = effective.as_dict()
    return out
