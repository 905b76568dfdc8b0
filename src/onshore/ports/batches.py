"""The Batch API's ports: file bytes, file and batch records (docs/batches.md).

Every read and change of a record names the organisation: a file or batch of another organisation
is simply not found, so ids cannot be probed.
"""

from __future__ import annotations

import builtins
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from typing import BinaryIO, Protocol

from onshore.domain.batches import Batch, BatchStatus, RequestResult, StoredFile


class FileStore(Protocol):
    """The bytes of files, per organisation (a local directory today; an object store later)."""

    def write(self, org_id: str, file_id: str, source: BinaryIO, limit: int) -> int:
        """Copy ``source`` into the file, at most ``limit`` bytes (``PayloadTooLarge`` above it,
        nothing kept); return its size."""
        ...

    def write_lines(self, org_id: str, file_id: str, lines: Iterator[str]) -> int:
        """A generated JSONL file, one line each; returns its size."""
        ...

    def open(self, org_id: str, file_id: str) -> BinaryIO:
        """Read it (``FileNotFoundError`` when it is gone)."""
        ...

    def delete(self, org_id: str, file_id: str) -> None:
        """Remove it; already gone is fine."""
        ...


class FileIndex(Protocol):
    """Who owns which file (SQL)."""

    def add(self, file: StoredFile) -> None: ...
    def get(self, org_id: str, file_id: str) -> StoredFile | None: ...
    def list(
        self, org_id: str, *, purpose: str | None, after: str | None, limit: int, newest_first: bool
    ) -> builtins.list[StoredFile]: ...
    def remove(self, org_id: str, file_id: str) -> bool:
        """True when it was there."""
        ...

    def expired(self, now: datetime, limit: int) -> builtins.list[StoredFile]:
        """Files whose retention ended, oldest first."""
        ...


class BatchStore(Protocol):
    """Batches, their requests and the lease of the replica that runs each (SQL).

    ``claim`` hands a batch to at most one replica at a time: one whose lease expired (or that never
    had one). A replica that lost its lease (``renew`` False) stops; ``record`` commits results only
    while the caller still holds the lease, so a batch taken over is never written by two.
    """

    def create(self, batch: Batch, custom_ids: Sequence[str]) -> None:
        """The batch and one pending request per input line, in one transaction."""
        ...

    def get(self, org_id: str, batch_id: str) -> Batch | None: ...
    def list(self, org_id: str, *, after: str | None, limit: int) -> builtins.list[Batch]: ...
    def request_cancel(self, org_id: str, batch_id: str, now: datetime) -> Batch | None:
        """``cancelling`` when still running; the batch as it is now (None: not found)."""
        ...

    def claim(self, owner: str, now: datetime, lease_s: float) -> Batch | None: ...
    def renew(self, batch_id: str, owner: str, now: datetime, lease_s: float) -> BatchStatus | None:
        """Extend the lease; the batch's status now, or None when the lease is no longer ours."""
        ...

    def release(self, batch_id: str, owner: str) -> None: ...
    def pending_lines(self, batch_id: str) -> builtins.list[int]: ...
    def record(self, batch_id: str, owner: str, results: Sequence[RequestResult]) -> BatchStatus | None:
        """Commit results (and the batch's counts) at once; the batch's status then (a cancel is seen
        at the next commit), or None (nothing written) without the lease."""
        ...

    def results(self, batch_id: str, *, failed: bool) -> Iterator[str]:
        """The committed result lines of one file, in input order."""
        ...

    def set_status(
        self,
        batch_id: str,
        owner: str,
        status: BatchStatus,
        now: datetime,
        *,
        output_file_id: str | None = None,
        error_file_id: str | None = None,
        errors: builtins.list[dict[str, object]] | None = None,
        from_status: Collection[BatchStatus] | None = None,
    ) -> bool:
        """Move the batch on (and stamp the moment); False without the lease, or when its status is
        not one of ``from_status`` (a cancel that came in between wins)."""
        ...
