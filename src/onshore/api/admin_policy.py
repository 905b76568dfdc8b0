"""``/admin/v1/orgs/{name}/policy``, ``/admin/v1/keys/{id}/policy`` and ``/admin/v1/residency``.

The same admin operations as ``onshore policy`` and ``onshore residency report``. A PUT of a policy
names the fields to change: a field set to null is cleared (not set here), a field left out keeps its
value. After a change every replica is told to reload (``Services.announce_limits_change``: policies
travel with the limits snapshot), this one before the answer is sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from onshore.admin import policy, residency
from onshore.domain.limits import Scope
from onshore.errors import InvalidRequest

if TYPE_CHECKING:
    from onshore.api.admin_routes import AdminRequest

_T = TypeVar("_T")


async def _run(action: Callable[[], _T]) -> _T:
    return await asyncio.to_thread(action)


async def get_org_policy(req: AdminRequest) -> tuple[int, Any]:
    return await _show(req, Scope.ORG)


async def put_org_policy(req: AdminRequest) -> tuple[int, Any]:
    return await _put(req, Scope.ORG)


async def get_key_policy(req: AdminRequest) -> tuple[int, Any]:
    return await _show(req, Scope.KEY)


async def put_key_policy(req: AdminRequest) -> tuple[int, Any]:
    return await _put(req, Scope.KEY)


async def _show(req: AdminRequest, scope: Scope) -> tuple[int, Any]:
    services = req.services
    store, home = services.store, services.settings.server.jurisdiction
    view = await _run(
        lambda: policy.show_policy(store.tenancy, store.policies, scope, req.args[0], home=home)
    )
    return 200, policy.policy_json(view)


async def _put(req: AdminRequest, scope: Scope) -> tuple[int, Any]:
    changes = await req.json()
    services = req.services
    store, home = services.store, services.settings.server.jurisdiction
    view = await _run(
        lambda: policy.set_policy(
            store.tenancy, store.policies, scope, req.args[0], changes, home=home, actor=req.actor
        )
    )
    await services.announce_limits_change()
    return 200, policy.policy_json(view)


async def get_residency(req: AdminRequest) -> tuple[int, Any]:
    org_name = req.query.get("org")
    if not org_name:
        raise InvalidRequest("'org' is required: the organisation's name.", param="org")
    services = req.services
    store, home = services.store, services.settings.server.jurisdiction
    report, allowed = await _run(
        lambda: residency.residency_for_month(
            store.tenancy, store.usage, store.policies, org_name, req.query.get("month"), home=home
        )
    )
    return 200, residency.residency_json(report, org_name, allowed)
