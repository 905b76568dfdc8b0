"""Backends: health, in-flight requests, queue depth, jurisdiction and operator."""

from __future__ import annotations

from onshore.fleet import backends_status
from onshore.web.http import Response
from onshore.web.render import View


async def backends(view: View) -> Response:
    # The health prober's last reading: a hung engine must not hang the page (``probe=False``).
    rows = await backends_status(view.services, probe=False)
    return view.render("backends.html", backends=rows)
