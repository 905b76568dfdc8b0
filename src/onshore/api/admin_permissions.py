"""The permission each admin API route needs, by path pattern and method (beside ``_ROUTES``).

``dispatch`` looks the permission up for every request it routes and refuses with 403
``permission_denied`` when the caller's role and grants lack it; a unit test checks that every route
in ``admin_routes._ROUTES`` has an entry here, so a new route cannot slip in unguarded. The roles
and the permissions they hold are in ``onshore.domain.operators`` (docs/operators.md has the table).
"""

from __future__ import annotations

ROUTE_PERMISSIONS: dict[tuple[str, ...], dict[str, str]] = {
    ("orgs",): {"GET": "orgs:read", "POST": "orgs:write"},
    ("keys",): {"GET": "keys:read", "POST": "keys:write"},
    ("keys", "*", "revoke"): {"POST": "keys:write"},
    ("keys", "*"): {"DELETE": "keys:write"},
    ("orgs", "*", "limits"): {"GET": "limits:read", "PUT": "limits:write"},
    ("keys", "*", "limits"): {"GET": "limits:read", "PUT": "limits:write"},
    ("prices",): {"GET": "prices:read", "PUT": "prices:write"},
    ("orgs", "*", "policy"): {"GET": "policy:read", "PUT": "policy:write"},
    ("keys", "*", "policy"): {"GET": "policy:read", "PUT": "policy:write"},
    ("residency",): {"GET": "residency:read"},
    ("backends",): {"GET": "backends:read"},
    ("usage",): {"GET": "usage:read"},
    ("audit",): {"GET": "audit:read"},
    # A preview is a POST too, and needs invoices:write like issuing (it is the first step of it).
    ("invoices",): {"GET": "invoices:read", "POST": "invoices:write"},
    ("invoices", "*"): {"GET": "invoices:read"},
    ("operators",): {"GET": "operators:read", "POST": "operators:write"},
    ("operators", "*", "tokens"): {"POST": "operators:write"},
    ("operators", "*", "revoke"): {"POST": "operators:write"},
}
