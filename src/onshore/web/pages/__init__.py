"""The console's pages: (method, path pattern under /dashboard, handler)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from onshore.web.http import Response
from onshore.web.pages import audit, capacity, fleet, invoices, overview, residency, subjects, tenancy
from onshore.web.render import View

Handler = Callable[[View], Awaitable[Response]]

ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("GET", r"/overview", overview.overview_page),
    ("GET", r"/orgs", tenancy.list_orgs),
    ("POST", r"/orgs", tenancy.create_org),
    ("GET", r"/orgs/([^/]+)", tenancy.show_org),
    ("POST", r"/orgs/([^/]+)/keys", tenancy.create_key),
    ("POST", r"/orgs/([^/]+)/limits", subjects.set_org_limits),
    ("POST", r"/orgs/([^/]+)/policy", subjects.set_org_policy),
    ("GET", r"/keys/([^/]+)", subjects.show_key),
    ("POST", r"/keys/([^/]+)/limits", subjects.set_key_limits),
    ("POST", r"/keys/([^/]+)/policy", subjects.set_key_policy),
    ("POST", r"/keys/([^/]+)/revoke", tenancy.revoke_key),
    ("GET", r"/backends", fleet.backends),
    ("GET", r"/residency", residency.residency),
    ("GET", r"/audit", audit.audit_log),
    ("POST", r"/audit/verify", audit.verify),
    ("GET", r"/invoices", invoices.list_page),
    ("POST", r"/invoices", invoices.issue),
    ("POST", r"/invoices/preview", invoices.preview),
    ("GET", r"/invoices/([^/]+)", invoices.show),
    ("GET", r"/invoices/([^/]+)/document", invoices.document),
    ("GET", r"/capacity", capacity.capacity_page),
)
