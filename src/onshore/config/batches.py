"""Settings of the Batch API: where files live, how large and how long; how batches run."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FilesSettings(_Strict):
    dir: Path | None = None  # default: <data_dir>/files
    max_bytes: int = Field(200 * 1024 * 1024, ge=1)  # one uploaded file at most (OpenAI: 200 MB)
    # Uploaded files are removed this long after upload; generated ones (batch output and errors)
    # this long after the batch ends. None: kept until deleted.
    retention_days: float | None = Field(30.0, gt=0)
    sweep_interval_s: float = Field(600.0, gt=0)


class BatchSettings(_Strict):
    enabled: bool = True  # False: this replica serves the API but runs no batch
    concurrency: int = Field(8, ge=1, le=1024)  # requests of one batch in flight at once
    max_requests: int = Field(50_000, ge=1)  # lines in one input file (OpenAI: 50,000)
    poll_interval_s: float = Field(2.0, gt=0)  # how often an idle replica looks for a batch to run
    lease_s: float = Field(60.0, ge=5)  # a runner that stops renewing loses its batch after this
    # On shutdown, requests in flight get this long to finish and be committed (else they run again
    # on the replica that takes the batch over).
    drain_s: float = Field(20.0, ge=0)
    # While partners' interactive requests are in flight on this replica (or one ended less than
    # yield_hold_s ago), a batch keeps at most this many of its requests in flight: it runs on what
    # interactive traffic leaves, of the event loop as of the engines. concurrency: never step aside.
    yield_concurrency: int = Field(1, ge=1, le=1024)
    yield_hold_s: float = Field(0.5, ge=0)
