"""The Responses API's parts: the stored responses, the pipeline adapter and the purge of expired ones."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine

from onshore.config.settings import RemoteBackendSettings, Settings
from onshore.gateway.periodic import Periodic
from onshore.gateway.steps.responses_adapter import ResponsesAdapter
from onshore.lifecycle import Lifecycle
from onshore.ports import Clock, StoreError
from onshore.store.sql.responses import SqlResponseStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ResponsesParts:
    store: SqlResponseStore
    adapter: ResponsesAdapter
    purge: Periodic

    def register(self, lifecycle: Lifecycle) -> None:
        async def start() -> None:
            self.purge.start()

        lifecycle.add("responses-purge", start=start, stop=self.purge.stop)


def build_responses(settings: Settings, engine: Engine, clock: Clock) -> ResponsesParts:
    store = SqlResponseStore(engine)
    config = settings.responses

    async def purge() -> None:
        try:
            while await asyncio.to_thread(store.purge, clock.now()) > 0:
                pass  # batches of 1,000 until none is left
        except StoreError:
            log.warning("expired responses could not be purged; trying again later")

    native = frozenset(
        m.name
        for b in settings.backends
        if isinstance(b, RemoteBackendSettings) and b.responses == "native"
        for m in b.models
    )
    adapter = ResponsesAdapter(store, clock, timedelta(days=config.retention_days), native)
    return ResponsesParts(store, adapter, Periodic("onshore-responses-purge", config.purge_interval_s, purge))
