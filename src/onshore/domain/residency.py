"""Where an organisation's requests were served: the residency report, read from the usage ledger.

Every ledger row of the organisation in the period counts exactly once: a row that reached a backend
is in ``served`` under (jurisdiction, backend), one that did not (refused before routing, failed
authentication or admission, unknown model) in ``not_routed_requests``. So
``requests == sum(row.requests for row in served) + not_routed_requests``, and the token and cost
totals are the sums over ``served`` (a row without a backend carries none). ``refusals`` counts the
rows refused by a sovereignty policy, by status and error code: they are already counted above (a
residency refusal never reaches a backend), and shown apart because they are what an auditor asks
about.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# The error codes of the refusals a sovereignty policy makes (onshore.errors): no backend in the
# allowed jurisdictions (403) or none of them up (503); personal data a `block` policy refused (400),
# or that could not be checked (503). Ledger rows with these codes are the report's refusals.
REFUSAL_CODES: tuple[str, ...] = ("residency_unavailable", "pii_detected", "pii_check_failed")


@dataclass(frozen=True, slots=True)
class ServedUsage:
    """The rows served by one backend, in the jurisdiction the ledger recorded for them.

    ``jurisdiction`` is None for rows written before the ledger recorded it.
    """

    jurisdiction: str | None
    backend: str
    requests: int
    failed_requests: int = 0  # status >= 400 (the backend failed, or a stream was cut)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost_micro_krw: int = 0  # rows of a model without a price add nothing


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    error_code: str
    requests: int


@dataclass(frozen=True, slots=True)
class ResidencyReport:
    """An organisation's requests over ``period_start <= created_at < period_end`` (see the module).

    ``served`` is ordered by jurisdiction (unknown last), then backend; ``refusals`` by status, then
    error code.
    """

    org_id: str
    period_start: datetime
    period_end: datetime
    requests: int = 0
    not_routed_requests: int = 0
    served: tuple[ServedUsage, ...] = field(default_factory=tuple)
    refusals: tuple[Refusal, ...] = field(default_factory=tuple)

    @property
    def served_requests(self) -> int:
        return sum(s.requests for s in self.served)

    @property
    def prompt_tokens(self) -> int:
        return sum(s.prompt_tokens for s in self.served)

    @property
    def completion_tokens(self) -> int:
        return sum(s.completion_tokens for s in self.served)

    @property
    def total_tokens(self) -> int:
        return sum(s.total_tokens for s in self.served)

    @property
    def cost_micro_krw(self) -> int:
        return sum(s.cost_micro_krw for s in self.served)

    def by_jurisdiction(self) -> dict[str | None, ServedUsage]:
        """``served`` summed over backends, one entry per jurisdiction (in ``served``'s order)."""
        out: dict[str | None, ServedUsage] = {}
        for s in self.served:
            seen = out.get(s.jurisdiction, ServedUsage(s.jurisdiction, "*", 0))
            out[s.jurisdiction] = ServedUsage(
                s.jurisdiction,
                "*",
                seen.requests + s.requests,
                seen.failed_requests + s.failed_requests,
                seen.prompt_tokens + s.prompt_tokens,
                seen.completion_tokens + s.completion_tokens,
                seen.total_tokens + s.total_tokens,
                seen.cost_micro_krw + s.cost_micro_krw,
            )
        return out


def served_order(row: ServedUsage) -> tuple[bool, str, str]:
    """The order of ``ResidencyReport.served``: by jurisdiction, unknown last, then backend.

    Applied in Python, not SQL: SQLite sorts NULL first and PostgreSQL last.
    """
    return (row.jurisdiction is None, row.jurisdiction or "", row.backend)
