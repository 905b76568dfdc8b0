"""The console's pages: (method, path pattern under /dashboard, handler, the permission it needs).

The console checks the permission before the handler runs (403 otherwise), as the admin API does
with ``api/admin_permissions.py``; pages hide the forms an operator may not use (``may`` in the
templates), but the check here is what holds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from onshore.web.http import Response
from onshore.web.pages import audit, capacity, fleet, invoices, overview, residency, subjects, tenancy
from onshore.web.render import View

Handler = Callable[[View], Awaitable[Response]]

ROUTES: tuple[tuple[str, str, Handler, str], ...] = (
    ("GET", r"/overview", overview.overview_page, "orgs:read"),
    ("GET", r"/orgs", tenancy.list_orgs, "orgs:read"),
    ("POST", r"/orgs", tenancy.create_org, "orgs:write"),
    ("GET", r"/orgs/([^/]+)", tenancy.show_org, "orgs:read"),
    ("POST", r"/orgs/([^/]+)/keys", tenancy.create_key, "keys:write"),
    ("POST", r"/orgs/([^/]+)/limits", subjects.set_org_limits, "limits:write"),
    ("POST", r"/orgs/([^/]+)/policy", subjects.set_org_policy, "policy:write"),
    ("GET", r"/keys/([^/]+)", subjects.show_key, "keys:read"),
    ("POST", r"/keys/([^/]+)/limits", subjects.set_key_limits, "limits:write"),
    ("POST", r"/keys/([^/]+)/policy", subjects.set_key_policy, "policy:write"),
    ("POST", r"/keys/([^/]+)/revoke", tenancy.revoke_key, "keys:write"),
    ("GET", r"/backends", fleet.backends, "backends:read"),
    ("GET", r"/residency", residency.residency, "residency:read"),
    ("GET", r"/audit", audit.audit_log, "audit:read"),
    ("POST", r"/audit/verify", audit.verify, "audit:read"),  # checks the chain, writes nothing
    ("GET", r"/invoices", invoices.list_page, "invoices:read"),
    ("POST", r"/invoices", invoices.issue, "invoices:write"),
    ("POST", r"/invoices/preview", invoices.preview, "invoices:write"),
    ("GET", r"/invoices/([^/]+)", invoices.show, "invoices:read"),
    ("GET", r"/invoices/([^/]+)/document", invoices.document, "invoices:read"),
    ("GET", r"/capacity", capacity.capacity_page, "usage:read"),
)
