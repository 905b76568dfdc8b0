"""What one request cost: the ledger's row, and aggregates read back for billing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One row per request, failed ones included. Tokens are as the backend reported them."""

    request_id: str
    created_at: datetime
    org_id: str | None
    key_id: str | None
    endpoint: str
    model: str | None
    backend: str | None
    status: int
    streamed: bool
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    ttft_ms: float | None = None
    latency_ms: float = 0.0
    error_code: str | None = None


@dataclass(frozen=True, slots=True)
class ModelUsage:
    model: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


@dataclass(frozen=True, slots=True)
class UsageSummary:
    org_id: str
    period_start: datetime
    period_end: datetime
    requests: int = 0
    failed_requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    by_model: tuple[ModelUsage, ...] = field(default_factory=tuple)
