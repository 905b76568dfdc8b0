"""The Batch API's parts: the file store, the SQL records, the operations the API calls, the runner
that takes up batches on this replica and the sweep of files whose retention ended."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from onshore.config.settings import Settings
from onshore.gateway.auth import KeyCache
from onshore.gateway.batch_runner import BatchRunner, RunnerSettings
from onshore.gateway.batches import BatchService
from onshore.gateway.chain import Handler
from onshore.gateway.periodic import Periodic
from onshore.gateway.traffic import InteractiveTraffic
from onshore.lifecycle import Lifecycle
from onshore.ports import Clock, StoreError
from onshore.store.file_store import LocalFileStore
from onshore.store.sql.batches import SqlBatchStore
from onshore.store.sql.files import SqlFileIndex

log = logging.getLogger(__name__)

_DAY_S = 86_400.0


def build_batches(
    settings: Settings,
    engine: Engine,
    clock: Clock,
    pipeline: Handler,
    keys: KeyCache,
    lifecycle: Lifecycle,
    traffic: InteractiveTraffic | None = None,
) -> BatchService:
    """Registered last in the lifecycle, so stopped first: the requests in flight finish while the
    ledger, the database and the backends are still there. ``traffic``: partners' requests in flight,
    which the runner steps aside for (``batches.yield_concurrency``)."""
    files_config, config = settings.files, settings.batches
    root = files_config.dir or settings.data_dir / "files"
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    files = LocalFileStore(root)
    index = SqlFileIndex(engine)
    store = SqlBatchStore(engine)
    retention_s = None if files_config.retention_days is None else files_config.retention_days * _DAY_S
    service = BatchService(
        files=files,
        index=index,
        batches=store,
        clock=clock,
        max_file_bytes=files_config.max_bytes,
        max_requests=config.max_requests,
        retention_s=retention_s,
    )

    async def sweep() -> None:
        try:
            while await service.sweep() > 0:
                pass
        except StoreError:
            log.warning("expired files could not be removed; trying again later")

    sweeper = Periodic("onshore-files-sweep", files_config.sweep_interval_s, sweep)

    async def start_sweep() -> None:
        sweeper.start()

    lifecycle.add("files-sweep", start=start_sweep, stop=sweeper.stop)
    if config.enabled:
        runner = BatchRunner(
            store=store,
            files=files,
            index=index,
            pipeline=pipeline,
            principal_for=keys.principal_for,
            ready=lambda: keys.loaded,
            clock=clock,
            settings=RunnerSettings(
                concurrency=config.concurrency,
                poll_interval_s=config.poll_interval_s,
                lease_s=config.lease_s,
                drain_s=config.drain_s,
                output_retention_s=retention_s,
                yield_concurrency=config.yield_concurrency,
                yield_hold_s=config.yield_hold_s,
            ),
            traffic=traffic,
        )

        async def start_runner() -> None:
            runner.start()

        lifecycle.add("batches", start=start_runner, stop=runner.stop)
    return service
