"""Stored Responses API answers: kept per organisation, in the gateway's own database, for a while.

A stored response is readable only by its own organisation: every method takes the organisation
and a response of another one is simply not there (the API answers 404, so ids cannot be probed).
Expired responses are never returned, whether or not the purge has removed them yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class StoredResponse:
    id: str
    org_id: str
    created_at: datetime
    expires_at: datetime
    model: str
    body: dict[str, Any]  # the response object as the partner received it (personal data redacted)
    input_items: list[dict[str, Any]]  # the full input, history first, each with its own id


class ResponseStore(Protocol):
    """Synchronous like the rest of the SQL store; the gateway calls it through ``asyncio.to_thread``."""

    def save(self, response: StoredResponse) -> None:
        """Keep ``response``; saving the same id again replaces nothing and raises nothing."""
        ...

    def get(self, org_id: str, response_id: str, now: datetime) -> StoredResponse | None:
        """The organisation's response, or None (another organisation's, expired, deleted, unknown)."""
        ...

    def delete(self, org_id: str, response_id: str, now: datetime) -> bool:
        """Remove the organisation's response; False when there was none to remove."""
        ...

    def purge(self, now: datetime, limit: int = 1000) -> int:
        """Remove up to ``limit`` responses expired at ``now``; how many were removed."""
        ...
