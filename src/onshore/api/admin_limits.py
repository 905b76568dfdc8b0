"""``/admin/v1/orgs/{name}/limits``, ``/admin/v1/keys/{id}/limits`` and ``/admin/v1/prices``.

The same admin operations as ``onshore limits`` and ``onshore prices``. A PUT of limits names the
fields to change: a field set to null is cleared, a field left out keeps its value. A PUT of prices
takes one price object or an array of them; every price is checked before any is stored. After a
change every replica is told to reload (``Services.announce_limits_change``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from onshore.admin import limits, prices
from onshore.domain.limits import Price, Scope
from onshore.errors import InvalidRequest

if TYPE_CHECKING:
    from onshore.api.admin_routes import AdminRequest

MAX_PRICES_PER_PUT = 1000
_PRICE_FIELDS = frozenset(
    {"model", "input_krw", "output_krw", "cached_input_krw", "effective_from", "object"}
)
_T = TypeVar("_T")


async def _run(action: Callable[[], _T]) -> _T:
    return await asyncio.to_thread(action)


# --- limits -----------------------------------------------------------------------------------------


async def get_org_limits(req: AdminRequest) -> tuple[int, Any]:
    return await _show(req, Scope.ORG)


async def put_org_limits(req: AdminRequest) -> tuple[int, Any]:
    return await _put(req, Scope.ORG)


async def get_key_limits(req: AdminRequest) -> tuple[int, Any]:
    return await _show(req, Scope.KEY)


async def put_key_limits(req: AdminRequest) -> tuple[int, Any]:
    return await _put(req, Scope.KEY)


async def _show(req: AdminRequest, scope: Scope) -> tuple[int, Any]:
    store = req.services.store
    view = await _run(lambda: limits.show_limits(store.tenancy, store.limits, scope, req.args[0]))
    return 200, limits.limits_json(view)


async def _put(req: AdminRequest, scope: Scope) -> tuple[int, Any]:
    changes = await req.json()
    store = req.services.store
    view = await _run(
        lambda: limits.set_limits(store.tenancy, store.limits, scope, req.args[0], changes, actor=req.actor)
    )
    await req.services.announce_limits_change()
    return 200, limits.limits_json(view)


# --- prices -----------------------------------------------------------------------------------------


async def get_prices(req: AdminRequest) -> tuple[int, Any]:
    return 200, await _price_list(req)


async def put_prices(req: AdminRequest) -> tuple[int, Any]:
    raw = await req.exchange.body(1024 * 1024)
    try:
        body = orjson.loads(raw or b"null")
    except orjson.JSONDecodeError:
        raise InvalidRequest("The request body is not valid JSON.") from None
    items = body if isinstance(body, list) else [body]
    if not items or not all(isinstance(item, dict) for item in items):
        raise InvalidRequest("The request body must be a price object or a non-empty array of them.")
    if len(items) > MAX_PRICES_PER_PUT:
        raise InvalidRequest(f"At most {MAX_PRICES_PER_PUT} prices at once.")
    today = datetime.now(UTC).date()
    checked = [_price(item, today) for item in items]  # all checked before any is stored
    store = req.services.store

    def store_all() -> None:
        for price in checked:
            prices.store_price(store.limits, price, actor=req.actor)

    await _run(store_all)
    await req.services.announce_limits_change()
    return 200, await _price_list(req)


def _price(item: dict[str, Any], today: date) -> Price:
    unknown = sorted(set(item) - _PRICE_FIELDS)
    if unknown:
        raise InvalidRequest(f"Unknown price field {unknown[0]!r}.", param=unknown[0])
    for required in ("model", "input_krw", "output_krw"):
        if item.get(required) is None:
            raise InvalidRequest(f"'{required}' is required.", param=required)
    if item.get("object", "price") != "price":  # what GET returns may be PUT back; nothing else
        raise InvalidRequest("'object' must be 'price'.", param="object")
    return prices.new_price(
        item["model"],
        item["input_krw"],
        item["output_krw"],
        item.get("cached_input_krw"),
        item.get("effective_from"),
        today=today,
    )


async def _price_list(req: AdminRequest) -> dict[str, Any]:
    services = req.services
    listed = await _run(lambda: prices.list_prices(services.store.limits, services.settings.prices))
    return prices.prices_json(listed)
