"""The audit log with filters, and "verify": the whole hash chain walked against its checkpoints."""

from __future__ import annotations

from onshore.admin.audit import find_entries
from onshore.admin.audit_chain import verify_trail
from onshore.bootstrap.audit import signature_check, trusted_keys
from onshore.web.http import Response
from onshore.web.render import View

_PAGE = 200  # entries per page: a day of a busy platform's changes


async def audit_log(view: View) -> Response:
    return await _page(view)


async def verify(view: View) -> Response:
    store, settings = view.services.store, view.services.settings
    trusted = trusted_keys(settings)
    verdict = await view.run(
        lambda: verify_trail(store.audit_trail, signature_check(trusted) if trusted else None)
    )
    return await _page(view, verdict=verdict, signed=bool(trusted))


async def _page(view: View, **extra: object) -> Response:
    request, store = view.request, view.services.store
    org_name = request.query("org") or None
    action = (request.query("action") or "").strip()
    since = request.query("since") or None
    orgs = await view.run(store.tenancy.list_orgs)
    entries = await view.run(
        lambda: find_entries(
            store.audit_trail, store.tenancy, org_name=org_name, since=since, limit=1000 if action else _PAGE
        )
    )
    if action:
        entries = [e for e in entries if e.action.startswith(action)][:_PAGE]
    names = {o.id: o.name for o in orgs}
    return view.render(
        "audit.html",
        entries=entries,
        org_names=names,
        orgs=orgs,
        org_name=org_name or "",
        action=action,
        since=since or "",
        verdict=extra.get("verdict"),
        signed=extra.get("signed", False),
    )
