"""The Batch API's operations, as the API face calls them: files (upload, list, read, delete) and
batches (create, read, list, cancel). Every one takes the caller's organisation, and finds nothing
of another's (404, never 403: ids cannot be probed). Blocking store calls run in threads."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import BinaryIO

from onshore.domain.batches import (
    BATCH_ENDPOINTS,
    COMPLETION_WINDOWS,
    FILE_PURPOSE_BATCH,
    Batch,
    BatchStatus,
    StoredFile,
)
from onshore.domain.tenancy import Principal
from onshore.errors import InvalidRequest, NotFound
from onshore.gateway.batch_input import check_input
from onshore.gateway.batch_lines import new_id
from onshore.gateway.policy import echo
from onshore.ports import BatchStore, Clock, FileIndex, FileStore

_MAX_METADATA = 16


class BatchService:
    def __init__(
        self,
        *,
        files: FileStore,
        index: FileIndex,
        batches: BatchStore,
        clock: Clock,
        max_file_bytes: int,
        max_requests: int,
        retention_s: float | None,
    ) -> None:
        self._files, self._index, self._batches = files, index, batches
        self._clock = clock
        self.max_file_bytes = max_file_bytes
        self._max_requests = max_requests
        self._retention_s = retention_s

    # --- files ------------------------------------------------------------------------------------

    async def upload(self, org_id: str, purpose: str, filename: str, source: BinaryIO) -> StoredFile:
        if purpose != FILE_PURPOSE_BATCH:
            raise InvalidRequest(
                f"The purpose '{echo(purpose)}' is not supported; use 'batch'.", param="purpose"
            )
        file_id = new_id("file-")
        size = await asyncio.to_thread(self._files.write, org_id, file_id, source, self.max_file_bytes)
        now = self._clock.now()
        stored = StoredFile(
            id=file_id,
            org_id=org_id,
            purpose=purpose,
            filename=filename[:512] or "upload.jsonl",
            bytes=size,
            created_at=now,
            expires_at=None if self._retention_s is None else now + timedelta(seconds=self._retention_s),
        )
        try:
            await asyncio.to_thread(self._index.add, stored)
        except BaseException:
            await asyncio.to_thread(self._files.delete, org_id, file_id)
            raise
        return stored

    async def file(self, org_id: str, file_id: str) -> StoredFile:
        stored = await asyncio.to_thread(self._index.get, org_id, file_id)
        if stored is None:
            raise NotFound(f"No such File object: {echo(file_id)}", param="id")
        return stored

    async def files(
        self, org_id: str, *, purpose: str | None, after: str | None, limit: int, newest_first: bool
    ) -> list[StoredFile]:
        return await asyncio.to_thread(
            lambda: self._index.list(
                org_id, purpose=purpose, after=after, limit=limit, newest_first=newest_first
            )
        )

    async def content(self, org_id: str, file_id: str) -> bytes:
        await self.file(org_id, file_id)

        def read() -> bytes:
            with self._files.open(org_id, file_id) as source:
                return source.read()

        try:
            return await asyncio.to_thread(read)
        except FileNotFoundError:
            raise NotFound(f"No such File object: {echo(file_id)}", param="id") from None

    async def delete_file(self, org_id: str, file_id: str) -> None:
        if not await asyncio.to_thread(self._index.remove, org_id, file_id):
            raise NotFound(f"No such File object: {echo(file_id)}", param="id")
        await asyncio.to_thread(self._files.delete, org_id, file_id)

    async def sweep(self, limit: int = 500) -> int:
        """Remove files whose retention ended (row first: a file no row names is never served)."""
        expired = await asyncio.to_thread(self._index.expired, self._clock.now(), limit)
        for stored in expired:
            if await asyncio.to_thread(self._index.remove, stored.org_id, stored.id):
                await asyncio.to_thread(self._files.delete, stored.org_id, stored.id)
        return len(expired)

    # --- batches ----------------------------------------------------------------------------------

    async def create(
        self,
        principal: Principal,
        *,
        input_file_id: object,
        endpoint: object,
        completion_window: object,
        metadata: object,
    ) -> Batch:
        if not isinstance(endpoint, str) or endpoint not in BATCH_ENDPOINTS:
            raise InvalidRequest(
                f"The endpoint must be one of {', '.join(BATCH_ENDPOINTS)}.", param="endpoint"
            )
        if not isinstance(completion_window, str) or completion_window not in COMPLETION_WINDOWS:
            raise InvalidRequest("The completion_window must be '24h'.", param="completion_window")
        if not isinstance(input_file_id, str):
            raise InvalidRequest("The input_file_id is required.", param="input_file_id")
        checked = _metadata(metadata)
        stored = await asyncio.to_thread(self._index.get, principal.org_id, input_file_id)
        if stored is None:
            raise NotFound(f"No such File object: {echo(input_file_id)}", param="input_file_id")
        if stored.purpose != FILE_PURPOSE_BATCH:
            raise InvalidRequest("The input file's purpose must be 'batch'.", param="input_file_id")

        def validate() -> list[str]:
            with self._files.open(principal.org_id, input_file_id) as source:
                return check_input(source, endpoint, self._max_requests)

        custom_ids = await asyncio.to_thread(validate)
        now = self._clock.now()
        batch = Batch(
            id=new_id("batch_"),
            org_id=principal.org_id,
            key_id=principal.key_id,
            endpoint=endpoint,
            input_file_id=input_file_id,
            completion_window=completion_window,
            status=BatchStatus.VALIDATING,
            created_at=now,
            expires_at=now + timedelta(seconds=COMPLETION_WINDOWS[completion_window]),
            request_total=len(custom_ids),
            metadata=checked,
        )
        await asyncio.to_thread(self._batches.create, batch, custom_ids)
        return batch

    async def batch(self, org_id: str, batch_id: str) -> Batch:
        found = await asyncio.to_thread(self._batches.get, org_id, batch_id)
        if found is None:
            raise NotFound(f"No such Batch object: {echo(batch_id)}", param="batch_id")
        return found

    async def batches(self, org_id: str, *, after: str | None, limit: int) -> list[Batch]:
        return await asyncio.to_thread(lambda: self._batches.list(org_id, after=after, limit=limit))

    async def cancel(self, org_id: str, batch_id: str) -> Batch:
        found = await asyncio.to_thread(self._batches.request_cancel, org_id, batch_id, self._clock.now())
        if found is None:
            raise NotFound(f"No such Batch object: {echo(batch_id)}", param="batch_id")
        return found


def _metadata(value: object) -> dict[str, str] | None:
    """OpenAI's metadata: at most 16 string pairs (keys up to 64 characters, values up to 512)."""
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) > _MAX_METADATA:
        raise InvalidRequest("The metadata must be an object of at most 16 pairs.", param="metadata")
    for key, item in value.items():
        if not isinstance(key, str) or len(key) > 64 or not isinstance(item, str) or len(item) > 512:
            raise InvalidRequest(
                "Metadata keys must be strings of at most 64 characters, values of at most 512.",
                param="metadata",
            )
    return dict(value)
