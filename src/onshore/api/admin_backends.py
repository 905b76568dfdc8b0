"""``GET /admin/v1/backends``: the fleet as :mod:`onshore.fleet` shows it, and its ``?probe=`` flag."""

from __future__ import annotations

from onshore.errors import InvalidRequest
from onshore.fleet import backends_status, queue_json

__all__ = ["backends_status", "parse_probe", "queue_json"]


def parse_probe(value: str | None) -> bool:
    """``?probe=`` as a flag: absent or true probes every backend now; false reads the last probe."""
    if value is None or value.lower() in ("1", "true", "yes"):
        return True
    if value.lower() in ("0", "false", "no"):
        return False
    raise InvalidRequest("probe must be true or false", param="probe")
