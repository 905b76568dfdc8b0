"""Every admin API route declares the permission it needs, and only known permissions."""

from __future__ import annotations

from onshore.api.admin_permissions import ROUTE_PERMISSIONS
from onshore.api.admin_routes import _ROUTES
from onshore.domain.operators import PERMISSIONS
from onshore.web.pages import ROUTES as CONSOLE_ROUTES


def test_every_route_and_method_has_a_permission() -> None:
    for pattern, methods in _ROUTES:
        assert pattern in ROUTE_PERMISSIONS, pattern
        assert set(methods) == set(ROUTE_PERMISSIONS[pattern]), pattern
    assert {pattern for pattern, _ in _ROUTES} == set(ROUTE_PERMISSIONS)


def test_reads_need_read_permissions_and_writes_write_ones() -> None:
    for pattern, methods in ROUTE_PERMISSIONS.items():
        for method, permission in methods.items():
            assert permission in PERMISSIONS, (pattern, method)
            assert permission.endswith(":read") == (method == "GET"), (pattern, method)


def test_every_console_page_needs_a_known_permission() -> None:
    for method, pattern, _handler, permission in CONSOLE_ROUTES:
        assert permission in PERMISSIONS, pattern
        if method == "POST" and pattern != r"/audit/verify":  # verifying reads the chain, writes nothing
            assert permission.endswith(":write"), pattern
