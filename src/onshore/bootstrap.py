"""The composition root: settings in, a typed ``Services`` object out. Nothing else wires adapters.

The CLI uses ``open_store`` (database only); ``onshore serve`` uses ``build_services`` (everything).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from onshore.backends.registry import build_backend, build_routes
from onshore.config.settings import Settings
from onshore.errors import ConfigError
from onshore.gateway.auth import Authenticator, KeyCache
from onshore.gateway.key_sync import KeySync
from onshore.gateway.keys import KeyDigester
from onshore.gateway.metering import Meter
from onshore.gateway.pipeline import Gateway
from onshore.gateway.routing import Router
from onshore.observability.metrics import GatewayMetrics
from onshore.ports import Backend, RevocationBus
from onshore.store.buffered import BufferedUsageSink
from onshore.store.sql.engine import make_engine
from onshore.store.sql.ledger import SqlUsageStore
from onshore.store.sql.migrate import upgrade
from onshore.store.sql.tenancy import SqlTenancyStore

log = logging.getLogger(__name__)

_SECRET_FILE = "secret.key"  # noqa: S105 - a file name, not a secret


@dataclass
class Store:
    engine: Engine
    tenancy: SqlTenancyStore
    usage: SqlUsageStore
    digester: KeyDigester

    def close(self) -> None:
        self.engine.dispose()


@dataclass
class Services:
    settings: Settings
    store: Store
    gateway: Gateway
    router: Router
    backends: list[Backend]
    sink: BufferedUsageSink
    key_sync: KeySync
    metrics: GatewayMetrics
    bus: RevocationBus | None
    admin_token: str | None
    _health_task: asyncio.Task[None] | None = field(default=None, repr=False)

    async def start(self) -> None:
        self.sink.start()
        for backend in self.backends:
            await backend.start()
        await self.key_sync.load()
        self.key_sync.start()
        self._health_task = asyncio.create_task(self._probe_backends(), name="onshore-health")

    async def stop(self) -> None:
        if self._health_task is not None:
            self._health_task.cancel()
        await self.key_sync.stop()
        for backend in self.backends:
            try:
                await backend.aclose()
            except Exception:
                log.exception("closing backend %s failed", backend.name)
        if self.bus is not None:
            await self.bus.aclose()
        await asyncio.to_thread(self.sink.close, 30.0)
        self.store.close()

    async def revoke_everywhere(self, key_id: str) -> None:
        """After a revocation through this replica: apply it here now, and tell the others."""
        self.key_sync.forget(key_id)
        if self.bus is not None:
            try:
                await self.bus.publish(key_id)
            except Exception:
                log.warning("could not publish a key revocation; replicas will see it by polling")

    async def _probe_backends(self) -> None:
        # Only backends marked down are probed: a healthy backend proves itself on every request.
        while True:
            await asyncio.sleep(2.0)
            for state in self.router.states.values():
                if state.down_since is not None and await state.backend.check_health():
                    self.router.mark_ok(state)
                    log.info("backend %s is answering again", state.backend.name)


def load_secret(settings: Settings, environ: Mapping[str, str] | None = None) -> bytes:
    """The HMAC secret for key digests: from the environment, else a file made once in data_dir."""
    env = os.environ if environ is None else environ
    value = env.get(settings.security.secret_env)
    if value:
        if len(value) < 16:
            raise ConfigError(f"{settings.security.secret_env} must be at least 16 characters")
        return value.encode()
    path = settings.data_dir / _SECRET_FILE
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_hex(32).encode())
    return path.read_bytes().strip()


def open_store(settings: Settings, *, migrate: bool = True) -> Store:
    url = settings.database_url
    if migrate and settings.database.auto_migrate:
        _ensure_data_dir(settings.data_dir)
        upgrade(url)
    engine = make_engine(url, pool_size=settings.database.pool_size, echo=settings.database.echo)
    return Store(engine, SqlTenancyStore(engine), SqlUsageStore(engine), KeyDigester(load_secret(settings)))


def _ensure_data_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"data directory {path} cannot be created ({exc.strerror})") from None


def build_services(settings: Settings, environ: Mapping[str, str] | None = None) -> Services:
    env = os.environ if environ is None else environ
    store = open_store(settings)
    metrics = GatewayMetrics()
    ledger = settings.ledger
    sink = BufferedUsageSink(
        store.usage,
        spool_path=settings.data_dir / "ledger-spool.jsonl",
        batch_size=ledger.batch_size,
        flush_interval_s=ledger.flush_interval_s,
        max_buffered=ledger.max_buffered,
        retry_interval_s=ledger.retry_interval_s,
    )
    metrics.add_gauges(
        "onshore_ledger_rows",
        "Ledger rows waiting in memory (pending) or in the spool file (spooled).",
        lambda: (("pending", float(sink.pending)), ("spooled", float(sink.spooled))),
    )
    backends = [build_backend(b, settings.data_dir) for b in settings.backends]
    router = Router(backends, build_routes(settings.backends))
    metrics.add_gauges(
        "onshore_backend_in_flight",
        "Requests each backend is serving now.",
        lambda: ((name, float(state.in_flight)) for name, state in router.states.items()),
        label="backend",
    )
    metrics.add_gauges(
        "onshore_backend_up",
        "1 while a backend is considered healthy, 0 while it is skipped.",
        lambda: ((name, 1.0 if state.healthy else 0.0) for name, state in router.states.items()),
        label="backend",
    )
    cache = KeyCache()
    bus = _revocation_bus(settings)
    key_sync = KeySync(store.tenancy, cache, interval_s=settings.auth.sync_interval_s, bus=bus)
    gateway = Gateway(
        Authenticator(store.digester, cache, store.tenancy), router, Meter(sink, metrics), metrics
    )
    admin_token = env.get(settings.admin.token_env) or None
    return Services(
        settings=settings,
        store=store,
        gateway=gateway,
        router=router,
        backends=backends,
        sink=sink,
        key_sync=key_sync,
        metrics=metrics,
        bus=bus,
        admin_token=admin_token,
    )


def _revocation_bus(settings: Settings) -> RevocationBus | None:
    if not settings.redis.url:
        return None
    from onshore.store.state.redis import RedisRevocationBus  # noqa: PLC0415 - only with Redis

    return RedisRevocationBus(settings.redis.url)
