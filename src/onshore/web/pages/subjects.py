"""Limits and policies of an organisation or a key: the forms both pages share, and the key's page.

A form sends every field: a value sets it, a blank clears it (the limit is lifted, the setting is
inherited). Changes go through the same admin operations as the CLI and the admin API (same checks:
a key's limits within its organisation's, a key's jurisdictions within its organisation's; same
audit entries), then every replica reloads.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from onshore.admin import limits as limits_ops
from onshore.admin import policy as policy_ops
from onshore.admin import tenancy
from onshore.domain.limits import LIMIT_FIELDS, Scope
from onshore.domain.policy import PiiMode
from onshore.errors import InvalidRequest
from onshore.pii.entities import EntityType
from onshore.web.http import Response, redirect
from onshore.web.render import View

_CHECKBOX_ON = "on"
FORM_CHOICES: dict[str, Any] = {  # the choices the forms offer (see _subject.html)
    "limit_fields": LIMIT_FIELDS,
    "pii_modes": [m.value for m in PiiMode],
    "pii_types": [t.value for t in EntityType],
}


def _back(scope: Scope, subject: str) -> str:
    return f"/dashboard/{'orgs' if scope is Scope.ORG else 'keys'}/{quote(subject)}"


async def set_org_limits(view: View) -> Response:
    return await _set_limits(view, Scope.ORG)


async def set_key_limits(view: View) -> Response:
    return await _set_limits(view, Scope.KEY)


async def set_org_policy(view: View) -> Response:
    return await _set_policy(view, Scope.ORG)


async def set_key_policy(view: View) -> Response:
    return await _set_policy(view, Scope.KEY)


async def _set_limits(view: View, scope: Scope) -> Response:
    subject = view.args[0]
    changes: dict[str, object] = {}
    names = (*LIMIT_FIELDS, "tier") if scope is Scope.ORG else LIMIT_FIELDS  # a tier is an org's
    for name in names:
        value = await view.request.field(name)
        if value and name != "tier" and not value.isdigit():
            raise InvalidRequest(view.fmt.t("org.limits.whole_number", field=view.fmt.t(f"limit.{name}")))
        changes[name] = (int(value) if name != "tier" else value) if value else None
    store = view.services.store
    await view.run(
        lambda: limits_ops.set_limits(store.tenancy, store.limits, scope, subject, changes, actor=view.actor)
    )
    await view.services.announce_limits_change()
    return redirect(_back(scope, subject) + "?done=limits_saved")


async def _set_policy(view: View, scope: Scope) -> Response:
    """The whole form replaces the subject's policy; "inherit" leaves personal data unset."""
    subject = view.args[0]
    request = view.request
    mode = await request.field("pii")
    jurisdictions = await request.field("jurisdictions")
    changes: dict[str, object] = {"jurisdictions": jurisdictions or None, "pii": None}
    if mode not in ("", "inherit"):
        types = await request.fields("pii_types")
        changes["pii"] = mode
        changes["pii_types"] = types if types and mode != "off" else None
        restore = mode == "redact" and await request.field("restore") == _CHECKBOX_ON
        changes["restore"] = True if restore else None
        changes["redact_output"] = True if await request.field("redact_output") == _CHECKBOX_ON else None
    store, home = view.services.store, view.services.settings.server.jurisdiction
    await view.run(
        lambda: policy_ops.set_policy(
            store.tenancy, store.policies, scope, subject, changes, home=home, actor=view.actor
        )
    )
    await view.services.announce_limits_change()
    return redirect(_back(scope, subject) + "?done=policy_saved")


async def show_key(view: View) -> Response:
    """A key: its allow-list, its own limits beside its organisation's and the effective ones, and
    its policy beside the effective one."""
    store, home = view.services.store, view.services.settings.server.jurisdiction
    key_id = view.args[0]
    limits = await view.run(lambda: limits_ops.show_limits(store.tenancy, store.limits, Scope.KEY, key_id))
    policy = await view.run(
        lambda: policy_ops.show_policy(store.tenancy, store.policies, Scope.KEY, key_id, home=home)
    )
    key = limits.key
    assert key is not None  # a key's view always has it
    org = await view.run(lambda: tenancy.require_org(store.tenancy, limits.org.name))
    return view.render(
        "key.html",
        key=key,
        org=org,
        limits=limits.limits,
        org_limits=limits.org_limits,
        effective=limits.effective,
        policy=policy,
        now=view.services.clock.now(),
        done=view.request.query("done"),
        **FORM_CHOICES,
    )
