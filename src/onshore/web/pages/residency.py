"""Residency: where each organisation's requests were served this month, and what was refused."""

from __future__ import annotations

from onshore.admin.residency import residency_for_month
from onshore.web.http import Response
from onshore.web.render import View


async def residency(view: View) -> Response:
    store, home = view.services.store, view.services.settings.server.jurisdiction
    orgs = await view.run(store.tenancy.list_orgs)
    org_name = view.request.query("org") or (orgs[0].name if orgs else None)
    month = view.request.query("month") or None
    report = allowed = None
    if org_name:
        report, allowed = await view.run(
            lambda: residency_for_month(
                store.tenancy, store.usage, store.policies, org_name, month, home=home
            )
        )
    return view.render(
        "residency.html",
        orgs=orgs,
        org_name=org_name,
        month=month or "",
        report=report,
        allowed=allowed,
        home=home,
    )
