"""Create organisations and keys, list and revoke them; their JSON form for the CLI and the admin API."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from onshore.domain.audit import AuditEntry
from onshore.domain.keys import KeyDigester, new_key_id, new_key_secret, new_org_id, shown_prefix
from onshore.domain.limits import Scope
from onshore.domain.policy import SubjectPolicy, parse_jurisdictions
from onshore.domain.tenancy import ApiKey, NewKey, Organisation
from onshore.errors import Conflict, InvalidRequest, NotFound
from onshore.ports import AlreadyExists, PolicyStore, TenancyStore

_ORG_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}\Z")  # \Z: "$" passes "name\n"
# At most 12 digits: the number is bounded below anyway, and a 10,000-digit one would cost a slow
# int() before it could be refused.
_DURATION = re.compile(r"^\s*(\d{1,12})\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# A key that lives longer than this is a mistake (and far enough out, a date overflow: '99999999d'
# was a 500 from the admin API and a traceback from the CLI).
MAX_DURATION = timedelta(days=3650)


def parse_duration(text: str) -> timedelta:
    """'30d', '12h', '90m', '2w' -> timedelta; at most ``MAX_DURATION`` (3650d, about 10 years)."""
    match = _DURATION.match(text)
    if match is None or int(match.group(1)) <= 0:
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise InvalidRequest(
            f"invalid duration {shown!r}: use a number and a unit, e.g. 30d, 12h, 90m, 2w", param="expires_in"
        )
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds > MAX_DURATION.total_seconds():
        raise InvalidRequest(
            f"duration {text.strip()!r} is too long: at most {MAX_DURATION.days}d (about 10 years)",
            param="expires_in",
        )
    return timedelta(seconds=seconds)


def create_org(
    store: TenancyStore,
    name: str,
    *,
    jurisdictions: Iterable[str] | str | None = None,
    actor: str = "system",
) -> Organisation:
    """Create the organisation, its jurisdictions (when given) and its audit entry in one transaction.

    Without jurisdictions the organisation is held to the gateway's own (``server.jurisdiction``).

    Raises:
        InvalidRequest: a bad name, or a jurisdiction that is not an ISO 3166-1 alpha-2 code.
        Conflict: the name is taken.
    """
    if not _ORG_NAME.match(name):
        raise InvalidRequest(
            "organisation names are 1-100 characters: letters, digits, space, '.', '_' or '-'", param="name"
        )
    allowed = jurisdictions_arg(jurisdictions)
    try:
        with store.unit_of_work("creating an organisation") as tx:
            org = tx.create_org(name)
            tx.set_policy(Scope.ORG, org.id, SubjectPolicy(jurisdictions=allowed))
            tx.append_audit(
                AuditEntry.create(
                    actor=actor,
                    action="org.create",
                    target_type="organisation",
                    target_id=org.id,
                    org_id=org.id,
                    detail={"name": name, "jurisdictions": _listed(allowed)},
                    at=org.created_at,
                )
            )
    except AlreadyExists:
        raise Conflict(f"an organisation named {name!r} already exists", param="name") from None
    return org


def jurisdictions_arg(value: object) -> tuple[str, ...] | None:
    """A face's jurisdictions (None, ``"KR,JP"`` or ``["KR", "JP"]``) -> sorted codes, or None.

    Raises:
        InvalidRequest: not a string or an array of strings, empty, or a code that is not ISO
            3166-1 alpha-2 (param ``jurisdictions``).
    """
    if value is None:
        return None
    if not isinstance(value, str) and not (
        isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
    ):
        raise InvalidRequest(
            'jurisdictions must be an array of ISO 3166-1 alpha-2 codes, e.g. ["KR"]', param="jurisdictions"
        )
    try:
        return parse_jurisdictions(value)
    except ValueError as exc:
        raise InvalidRequest(str(exc), param="jurisdictions") from None


def org_jurisdictions(policies: PolicyStore, org_id: str, home: str) -> tuple[str, ...]:
    """The jurisdictions an organisation's keys may use: its own, or ``home`` when it set none."""
    own = policies.get_policy(Scope.ORG, org_id).jurisdictions
    return own if own is not None else (home,)


def check_narrows(key: tuple[str, ...], org: tuple[str, ...], org_name: str) -> None:
    """Refuse a key's jurisdictions that are not within its organisation's, naming both sets.

    A wider set would never bind (requests are held to the intersection), and an operator who types
    one almost always meant something else; like a key's limit above its organisation's.
    """
    wider = sorted(set(key) - set(org))
    if wider:
        raise InvalidRequest(
            f"jurisdictions {','.join(key)} are wider than organisation {org_name}'s {','.join(org)} "
            f"({','.join(wider)} not allowed): a key may only narrow its organisation's jurisdictions",
            param="jurisdictions",
        )


def _listed(codes: tuple[str, ...] | None) -> list[str] | None:
    return None if codes is None else list(codes)


def require_org(store: TenancyStore, name: str) -> Organisation:
    org = store.get_org_by_name(name)
    if org is None:
        raise NotFound(f"no organisation named {name!r}", param="org")
    return org


def parse_scope(scope: Scope | str) -> Scope:
    try:
        return Scope(scope)
    except ValueError:
        raise InvalidRequest(f"unknown scope {scope!r}: use org or key", param="scope") from None


def require_subject(
    tenancy: TenancyStore, scope: Scope | str, subject: str
) -> tuple[Scope, Organisation, ApiKey | None]:
    """An organisation by name (``org``) or a key by id (``key``), with the key's organisation.

    Raises:
        InvalidRequest: an unknown scope.
        NotFound: no such organisation or key.
    """
    scope = parse_scope(scope)
    if scope is Scope.ORG:
        return scope, require_org(tenancy, subject), None
    key = tenancy.get_key(subject)
    if key is None:
        raise NotFound(f"no key with id {subject!r}", param="key_id")
    org = tenancy.get_org(key.org_id)
    if org is None:  # pragma: no cover - a key's organisation is a foreign key
        raise NotFound(f"the organisation of key {subject!r} no longer exists", param="key_id")
    return scope, org, key


def create_key(
    store: TenancyStore,
    digester: KeyDigester,
    org_name: str,
    *,
    name: str | None = None,
    models: list[str] | None = None,
    expires_in: str | None = None,
    jurisdictions: Iterable[str] | str | None = None,
    policies: PolicyStore | None = None,
    home: str | None = None,
    now: datetime | None = None,
    actor: str = "system",
) -> NewKey:
    """Create the key, its jurisdictions (when given) and its audit entry in one transaction; the
    secret exists only in the result.

    A key's jurisdictions narrow its organisation's (its own, or ``home``, the gateway's, when it set
    none), read through ``policies``: both are needed when ``jurisdictions`` is given.

    Raises:
        NotFound: no organisation by that name.
        InvalidRequest: an empty model list, a bad duration, a bad jurisdiction, or jurisdictions
            wider than the organisation's.
    """
    org = require_org(store, org_name)
    allowed = jurisdictions_arg(jurisdictions)
    if allowed is not None:
        if policies is None or home is None:  # pragma: no cover - a wiring bug in a face
            raise TypeError("create_key needs policies and home to check a key's jurisdictions")
        # Read before the transaction: an organisation narrowed in between slips through, which
        # is harmless (requests are held to the intersection); the check is for the operator.
        check_narrows(allowed, org_jurisdictions(policies, org.id, home), org.name)
    moment = now or datetime.now(UTC)
    expires_at = moment + parse_duration(expires_in) if expires_in else None
    cleaned = None
    if models is not None:
        cleaned = tuple(dict.fromkeys(m.strip() for m in models if m.strip()))
        if not cleaned:
            raise InvalidRequest("the model allow-list is empty", param="models")
    secret = new_key_secret()
    key = ApiKey(
        id=new_key_id(),
        org_id=org.id,
        name=(name or "default")[:100],
        digest=digester.digest(secret),
        secret_id=digester.secret_id,
        prefix=shown_prefix(secret),
        created_at=moment,
        expires_at=expires_at,
        models=cleaned,
        updated_at=moment,
    )
    with store.unit_of_work("creating a key") as tx:
        stored = tx.add_key(key)
        tx.set_policy(Scope.KEY, key.id, SubjectPolicy(jurisdictions=allowed))
        tx.append_audit(
            AuditEntry.create(
                actor=actor,
                action="key.create",
                target_type="api_key",
                target_id=key.id,
                org_id=org.id,
                # never the secret, nor its digest: what an auditor needs to know about the key
                detail={
                    "name": key.name,
                    "prefix": key.prefix,
                    "models": list(cleaned) if cleaned is not None else None,
                    "expires_at": expires_at.isoformat() if expires_at else None,
                    "jurisdictions": _listed(allowed),
                },
                at=moment,
            )
        )
    return NewKey(key=stored, secret=secret)


def list_keys(store: TenancyStore, org_name: str | None = None) -> list[ApiKey]:
    org_id = require_org(store, org_name).id if org_name else None
    return store.list_keys(org_id)


def revoke_key(
    store: TenancyStore, key_id: str, now: datetime | None = None, *, actor: str = "system"
) -> ApiKey:
    """Revoke the key and append its audit entry in one transaction (issue 15's unit of work)."""
    moment = now or datetime.now(UTC)
    with store.unit_of_work("revoking a key") as tx:
        key = tx.revoke_key(key_id, moment)
        if key is None:
            raise NotFound(f"no key with id {key_id!r}", param="key_id")
        tx.append_audit(
            AuditEntry.create(
                actor=actor,
                action="key.revoke",
                target_type="api_key",
                target_id=key.id,
                org_id=key.org_id,
                detail={"name": key.name, "prefix": key.prefix},
                at=moment,
            )
        )
    return key


def new_organisation_id() -> str:
    return new_org_id()


def org_json(org: Organisation) -> dict[str, Any]:
    return {
        "id": org.id,
        "object": "organisation",
        "name": org.name,
        "created_at": org.created_at.isoformat(),
    }


def key_json(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "object": "api_key",
        "org_id": key.org_id,
        "name": key.name,
        "prefix": key.prefix,
        "models": list(key.models) if key.models is not None else None,
        "created_at": key.created_at.isoformat(),
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
    }
