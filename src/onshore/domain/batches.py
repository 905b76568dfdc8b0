"""Files and batches of the Batch API, as plain values (docs/batches.md).

A batch moves ``validating → in_progress → finalizing → completed``; it can end ``failed`` (its
input could not be read when it ran), ``expired`` (its completion window ended first) or, when
asked, ``cancelling → cancelled``. Each of its requests is one line of its input file, pending
until its result line (output or error) is committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

FILE_PURPOSE_BATCH = "batch"
FILE_PURPOSE_BATCH_OUTPUT = "batch_output"
COMPLETION_WINDOWS: dict[str, float] = {"24h": 24 * 3600.0}
# The endpoints a batch may run, by the ``url`` its lines carry.
BATCH_ENDPOINTS = ("/v1/chat/completions", "/v1/embeddings", "/v1/completions")


class BatchStatus(StrEnum):
    VALIDATING = "validating"
    FAILED = "failed"
    IN_PROGRESS = "in_progress"
    FINALIZING = "finalizing"
    COMPLETED = "completed"
    EXPIRED = "expired"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"


# A replica takes up batches in these states (the others are final).
ACTIVE_STATUSES = frozenset(
    {BatchStatus.VALIDATING, BatchStatus.IN_PROGRESS, BatchStatus.FINALIZING, BatchStatus.CANCELLING}
)


@dataclass(frozen=True, slots=True)
class StoredFile:
    id: str
    org_id: str
    purpose: str
    filename: str
    bytes: int
    created_at: datetime
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Batch:
    id: str
    org_id: str
    key_id: str
    endpoint: str
    input_file_id: str
    completion_window: str
    status: BatchStatus
    created_at: datetime
    expires_at: datetime
    request_total: int = 0
    request_completed: int = 0
    request_failed: int = 0
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: list[dict[str, Any]] | None = None
    metadata: dict[str, str] | None = None
    # When each state was entered (None: not yet), by status name: "in_progress", "completed", ...
    moments: dict[str, datetime] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RequestResult:
    """One request's outcome: its line in the output (``failed`` False) or error file."""

    line: int
    failed: bool
    result: str  # the JSON line, without its newline
