"""Set and show the sovereignty policy of an organisation or a key; its JSON form for the CLI and the
admin API.

A policy is where a subject's data may be processed (``jurisdictions``, ISO 3166-1 alpha-2 codes) and
what happens to personal data in its requests (``pii``: off, detect, redact or block; ``pii_types``;
``restore``; ``redact_output``). A field set to null is "not set here": an organisation without
jurisdictions is held to the gateway's own (``server.jurisdiction``), a key without them to its
organisation's, and a key without a personal-data mode has its organisation's whole personal-data
policy (a key's, when set, replaces it: the two are never mixed field by field).

Rules, checked inside the writing transaction (``PolicyStore.update_policy``) against what is stored
then, so two operators changing different fields never lose each other's change:

- a key's jurisdictions must lie within its organisation's (a wider set would never bind);
- ``restore`` needs ``pii: redact`` (it puts back what redaction took out); and ``pii_types``,
  ``restore`` and ``redact_output`` need a mode on the same subject (alone they would do nothing).

To keep those rules from getting in the way: clearing ``pii`` clears the other personal-data fields
too, and a mode other than ``redact`` clears ``restore``, unless the change names them.

Every change writes one audit entry in the transaction that makes it: ``policy.set`` (or
``policy.clear`` when every named field is cleared) with the subject's policy before and after, and
``org.jurisdictions`` for :func:`set_org_jurisdictions`. Narrowing an organisation below one of its
keys is allowed, like lowering its limits: the key is then held to the intersection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from onshore.admin.tenancy import check_narrows, jurisdictions_arg, require_org, require_subject
from onshore.domain.audit import AuditEntry
from onshore.domain.limits import Scope
from onshore.domain.policy import EffectivePolicy, PiiMode, SubjectPolicy, parse_pii_types, resolve
from onshore.domain.tenancy import ApiKey, Organisation
from onshore.errors import InvalidRequest
from onshore.ports import PolicyStore, TenancyStore

# The public names (JSON, admin API bodies, audit details) of ``SubjectPolicy``'s fields.
PUBLIC_FIELDS: dict[str, str] = {
    "jurisdictions": "jurisdictions",
    "pii": "pii_mode",
    "pii_types": "pii_types",
    "restore": "pii_restore",
    "redact_output": "pii_redact_output",
}
_PUBLIC_NAME = {field: name for name, field in PUBLIC_FIELDS.items()}
_NEEDS_MODE = ("pii_types", "pii_redact_output", "pii_restore")
_MODE_NAMES = frozenset(m.value for m in PiiMode)
_MODES = ", ".join(m.value for m in PiiMode)

Changes = dict[str, object]


@dataclass(frozen=True, slots=True)
class PolicyView:
    """One subject's policy as ``show`` presents it."""

    scope: Scope
    org: Organisation
    key: ApiKey | None
    policy: SubjectPolicy  # the subject's own
    org_policy: SubjectPolicy  # its organisation's (the same as ``policy`` for an organisation)
    home: str  # the gateway's own jurisdiction: an organisation's when it set none

    @property
    def effective(self) -> EffectivePolicy:
        """What binds the subject's requests (for an organisation: those of a key with no policy)."""
        return resolve(self.org_policy, self.policy if self.key is not None else None, self.home)


# --- operations ---------------------------------------------------------------------------------


def show_policy(
    tenancy: TenancyStore, policies: PolicyStore, scope: Scope | str, subject: str, *, home: str
) -> PolicyView:
    """The subject's policy, its organisation's, and the effective one.

    Raises:
        NotFound: no organisation by that name, or no key with that id.
    """
    scope, org, key = require_subject(tenancy, scope, subject)
    own = policies.get_policy(scope, key.id if key is not None else org.id)
    org_policy = policies.get_policy(Scope.ORG, org.id) if key is not None else own
    return PolicyView(scope, org, key, own, org_policy, home)


def set_policy(
    tenancy: TenancyStore,
    policies: PolicyStore,
    scope: Scope | str,
    subject: str,
    changes: Mapping[str, object],
    *,
    home: str,
    actor: str = "system",
) -> PolicyView:
    """Apply ``changes`` (public field -> value, None to clear) and audit them; see the module.

    Fields not named keep their value as stored when the change is written. When nothing would
    change, nothing is written (no entry, no change for the replicas to reload).

    Raises:
        NotFound: no such organisation or key.
        InvalidRequest: no field, an unknown field or value, or a policy the rules refuse (a key's
            jurisdictions wider than its organisation's; ``restore`` without ``redact``; a
            personal-data setting without a mode).
    """
    scope, org, key = require_subject(tenancy, scope, subject)
    if not changes:
        raise InvalidRequest(f"name at least one field to change: {', '.join(PUBLIC_FIELDS)}")
    parsed = parse_changes(changes)
    action = "policy.clear" if all(v is None for v in changes.values()) else "policy.set"
    whose = "key" if key is not None else "organisation"

    def check(org_policy: SubjectPolicy, merged: SubjectPolicy) -> None:
        check_consistent(merged, whose)
        if key is not None and "jurisdictions" in parsed and merged.jurisdictions is not None:
            org_allowed = org_policy.jurisdictions or (home,)
            check_narrows(merged.jurisdictions, org_allowed, org.name)

    def audit_for(before: SubjectPolicy, after: SubjectPolicy) -> AuditEntry:
        detail = {"scope": scope.value, "before": subject_json(before), "after": subject_json(after)}
        return _entry(actor, action, org, key, detail)

    return _update(policies, scope, org, key, parsed, audit_for, check, home)


def set_org_jurisdictions(
    tenancy: TenancyStore,
    policies: PolicyStore,
    org_name: str,
    jurisdictions: Iterable[str] | str | None,
    *,
    home: str,
    actor: str = "system",
) -> PolicyView:
    """Set (None: clear, back to ``home``) where an organisation's data may be processed; audited as
    ``org.jurisdictions``. Keys with a wider set are then held to the intersection.

    Raises:
        NotFound: no organisation by that name.
        InvalidRequest: a code that is not ISO 3166-1 alpha-2, or an empty list.
    """
    org = require_org(tenancy, org_name)
    allowed = jurisdictions_arg(jurisdictions)

    def audit_for(before: SubjectPolicy, after: SubjectPolicy) -> AuditEntry:
        detail = {"from": _listed(before.jurisdictions), "to": _listed(after.jurisdictions)}
        return _entry(actor, "org.jurisdictions", org, None, detail)

    return _update(policies, Scope.ORG, org, None, {"jurisdictions": allowed}, audit_for, None, home)


def _update(
    policies: PolicyStore,
    scope: Scope,
    org: Organisation,
    key: ApiKey | None,
    changes: Changes,
    audit_for: Callable[[SubjectPolicy, SubjectPolicy], AuditEntry | None],
    check: Callable[[SubjectPolicy, SubjectPolicy], None] | None,
    home: str,
) -> PolicyView:
    subject_id = key.id if key is not None else org.id
    bound_by = org.id if key is not None else None
    result = policies.update_policy(scope, subject_id, changes, audit_for, bound_by=bound_by, check=check)
    org_policy = result.org if result.org is not None else result.after
    return PolicyView(scope, org, key, result.after, org_policy, home)


def _entry(
    actor: str, action: str, org: Organisation, key: ApiKey | None, detail: dict[str, Any]
) -> AuditEntry:
    return AuditEntry.create(
        actor=actor,
        action=action,
        target_type="api_key" if key is not None else "organisation",
        target_id=key.id if key is not None else org.id,
        org_id=org.id,
        detail=detail,
    )


# --- validation ---------------------------------------------------------------------------------


def parse_changes(changes: Mapping[str, object]) -> Changes:
    """Public fields and values -> ``SubjectPolicy`` fields and values (see the module for the
    personal-data fields a mode change clears).

    Raises:
        InvalidRequest: an unknown field, or a value of the wrong kind (param: the field).
    """
    parsed: Changes = {}
    for name, value in changes.items():
        field = PUBLIC_FIELDS.get(name)
        if field is None:
            raise InvalidRequest(
                f"unknown policy field {name!r}: use one of {', '.join(PUBLIC_FIELDS)}", param=name
            )
        parsed[field] = _parse(name, value)
    if "pii_mode" in parsed:
        mode = parsed["pii_mode"]
        if mode is None:
            for dependent in _NEEDS_MODE:
                parsed.setdefault(dependent, None)
        elif mode is not PiiMode.REDACT:
            parsed.setdefault("pii_restore", None)
    return parsed


def _parse(name: str, value: object) -> object:
    if value is None:
        return None
    if name == "jurisdictions":
        return jurisdictions_arg(value)
    if name == "pii":
        mode = value.strip().lower() if isinstance(value, str) else ""
        if mode not in _MODE_NAMES:
            raise InvalidRequest(
                f"unknown personal-data mode {_shown(value)}: use one of {_MODES}", param=name
            )
        return PiiMode(mode)
    if name == "pii_types":
        if not isinstance(value, str) and not (
            isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
        ):
            raise InvalidRequest('pii_types must be an array of type names, e.g. ["KR_RRN"]', param=name)
        try:
            return parse_pii_types(value)
        except ValueError as exc:
            raise InvalidRequest(str(exc), param=name) from None
    if not isinstance(value, bool):
        raise InvalidRequest(f"{name} must be true, false or null", param=name)
    return value


def check_consistent(policy: SubjectPolicy, whose: str) -> None:
    """Refuse a policy whose personal-data settings could not work as written (see the module)."""
    if policy.pii_mode is None:
        for field in _NEEDS_MODE:
            if getattr(policy, field) is not None:
                name = _PUBLIC_NAME[field]
                raise InvalidRequest(
                    f"{name} needs a personal-data mode on this {whose}: set pii too (off, detect, "
                    "redact or block); a key's personal-data settings replace its organisation's "
                    "only together with a mode",
                    param=name,
                )
        return
    if policy.pii_restore and policy.pii_mode is not PiiMode.REDACT:
        raise InvalidRequest(
            f"restore puts back what redaction took out, so it needs pii redact (this {whose}'s "
            f"is {policy.pii_mode.value})",
            param="restore",
        )


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "..."


# --- JSON ---------------------------------------------------------------------------------------


def _listed(values: Iterable[Any] | None) -> list[str] | None:
    return None if values is None else sorted(str(v) for v in values)


def subject_json(policy: SubjectPolicy) -> dict[str, Any]:
    """One subject's own settings under their public names; null: not set here."""
    return {
        "jurisdictions": _listed(policy.jurisdictions),
        "pii": None if policy.pii_mode is None else policy.pii_mode.value,
        "pii_types": _listed(None if policy.pii_types is None else (t.value for t in policy.pii_types)),
        "restore": policy.pii_restore,
        "redact_output": policy.pii_redact_output,
    }


def effective_json(effective: EffectivePolicy) -> dict[str, Any]:
    """What binds requests: never null except ``pii_types`` (null: every type the detector knows)."""
    return {"jurisdictions": sorted(effective.jurisdictions), **effective.pii.as_dict()}


def policy_json(view: PolicyView) -> dict[str, Any]:
    """The public shape of a subject's policy (admin API and ``onshore policy show --json``).

    The subject's own fields (null: not set here), for a key its organisation's (``org_policy``), and
    ``effective``: what binds its requests. Fields are only ever added, never renamed.
    """
    out: dict[str, Any] = {
        "object": "policy",
        "scope": view.scope.value,
        "org": view.org.name,
        "org_id": view.org.id,
        "key_id": view.key.id if view.key is not None else None,
        **subject_json(view.policy),
    }
    if view.key is not None:
        out["org_policy"] = subject_json(view.org_policy)
    out["effective"] = effective_json(view.effective)
    return out
