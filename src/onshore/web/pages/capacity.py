"""Capacity: the planner run on the ledger's own demand ("the busiest hour of last month, grown by
X %"), with its report and plots.

A plan simulates for seconds, so it runs in worker processes (the planner's process executor) while
the gateway's event loop only waits, and one plan at a time per replica: a second operator asking
meanwhile is told to wait rather than doubling the load on the machine that serves partners.
"""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime

from markupsafe import Markup

from onshore.admin.capacity import CapacityOptions, plan_capacity, previous_month
from onshore.errors import InvalidRequest, RateLimited
from onshore.planner.executor import LocalProcessExecutor
from onshore.web.http import Response
from onshore.web.render import View

_ONE_AT_A_TIME = asyncio.Lock()
_WORKERS = 2


async def capacity_page(view: View) -> Response:
    request, store, settings = view.request, view.services.store, view.services.settings
    orgs = await view.run(store.tenancy.list_orgs)
    month = request.query("month") or previous_month(datetime.now(UTC))
    growth_text = request.query("growth") or "0"
    org_name = request.query("org") or None
    plan = None
    if request.query("run") is not None:
        growth = _percent(growth_text)
        if _ONE_AT_A_TIME.locked():
            raise RateLimited(view.fmt.t("capacity.busy"), code="plan_running")
        async with _ONE_AT_A_TIME:
            options = CapacityOptions.from_settings(settings)
            plan = await view.run(
                lambda: plan_capacity(
                    store,
                    month=month,
                    growth_percent=growth,
                    org_name=org_name,
                    options=options,
                    executor=LocalProcessExecutor(_WORKERS),
                )
            )
    return view.render(
        "capacity.html",
        orgs=orgs,
        month=month,
        growth=growth_text,
        org_name=org_name or "",
        plan=plan,
        report=Markup(plan.html) if plan is not None else None,  # noqa: S704 - built with html.escape
    )


def _percent(text: str) -> float:
    try:
        value = float(text.strip().rstrip("%"))
    except ValueError:
        raise InvalidRequest("growth must be a number of percent, e.g. 20", param="growth") from None
    if not math.isfinite(value) or value <= -100 or value > 10_000:
        raise InvalidRequest(
            "growth must be a number of percent above -100 and at most 10000", param="growth"
        )
    return value
