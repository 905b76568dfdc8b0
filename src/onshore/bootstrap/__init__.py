"""The composition root: settings in, a ``Services`` of ports out. Nothing else wires adapters.

The CLI uses ``open_store`` (database only); ``onshore serve`` uses ``build_services`` (everything):
the pipeline's steps are composed here, once, and every service's start, stop and readiness check
is registered in one ``Lifecycle``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from sqlalchemy.engine import make_url

from onshore.backends.registry import build_backend, build_routes
from onshore.bootstrap.admission import build_admission
from onshore.bootstrap.audit import AuditLog, add_checkpoints
from onshore.bootstrap.batches import build_batches
from onshore.bootstrap.digest_secret import build_digester, load_secret
from onshore.bootstrap.observability import add_upkeep, build_metrics, build_telemetry
from onshore.bootstrap.operators import break_glass_token, build_operator_auth
from onshore.bootstrap.responses import build_responses
from onshore.config.checks import backend_problems
from onshore.config.settings import Settings
from onshore.domain.limits import LIMITS_CHANGED_NOTICE
from onshore.errors import ConfigError
from onshore.gateway.auth import Authenticator, KeyCache
from onshore.gateway.budget_watch import BudgetWatch
from onshore.gateway.clock import SystemClock
from onshore.gateway.health import BackendProber
from onshore.gateway.key_sync import KeySync
from onshore.gateway.limit_book import LimitSync
from onshore.gateway.pipeline import build_pipeline
from onshore.gateway.quota_seed import QuotaSeeder
from onshore.gateway.routing import Router
from onshore.gateway.steps.sovereignty import Sovereignty
from onshore.lifecycle import Check, Lifecycle
from onshore.ports import Clock, RevocationBus, StoreError
from onshore.services import Services, Store
from onshore.store.buffered import BufferedAuditSink, BufferedUsageSink
from onshore.store.sql.audit import SqlAuditLog
from onshore.store.sql.engine import make_engine
from onshore.store.sql.invoices import SqlInvoiceStore
from onshore.store.sql.ledger import SqlUsageStore
from onshore.store.sql.limits import SqlLimitsStore
from onshore.store.sql.migrate import upgrade
from onshore.store.sql.operators import SqlOperatorStore
from onshore.store.sql.policies import SqlPolicyStore
from onshore.store.sql.tenancy import SqlTenancyStore

log = logging.getLogger(__name__)

_DATABASE_RETRY_S = 2.0

__all__ = ["Services", "Store", "build_services", "load_secret", "open_store"]


def open_store(settings: Settings, *, migrate: bool = True) -> Store:
    """The database as ports, for the CLI: the schema is brought up to date first, audit entries
    are written at once (a command's entry must be durable when the command returns)."""
    if migrate and settings.database.auto_migrate:
        _ensure_data_dir(settings.data_dir, settings.database_url)
        upgrade(settings.database_url)
    sql = _Sql(settings)
    audit = AuditLog(lambda entry: sql.audit.append_many([entry]), sql.audit)
    return sql.store(audit, sql.engine.dispose)


class _Sql:
    def __init__(self, settings: Settings) -> None:
        self.engine = make_engine(
            settings.database_url, pool_size=settings.database.pool_size, echo=settings.database.echo
        )
        self.usage = SqlUsageStore(self.engine)
        self.tenancy = SqlTenancyStore(self.engine)
        self.audit = SqlAuditLog(self.engine)
        self.limits = SqlLimitsStore(self.engine)
        self.policies = SqlPolicyStore(self.engine)
        self.invoices = SqlInvoiceStore(self.engine)
        self.digester = build_digester(settings)
        self.operators = SqlOperatorStore(self.engine)

    def store(self, audit: AuditLog, close: Callable[[], None]) -> Store:
        return Store(
            tenancy=self.tenancy,
            usage=self.usage,
            health=self.usage,
            digester=self.digester,
            audit=audit,
            audit_reader=audit,
            audit_trail=self.audit,
            limits=self.limits,
            policies=self.policies,
            invoices=self.invoices,
            close=close,
            operators=self.operators,
        )


def _ensure_data_dir(path: Path, database_url: str | None = None) -> None:
    """The data directory, private (0700) when made here, and the SQLite file in it made 0600.

    It holds the key-digest secret, the ledger and its spool. SQLite would create its file with the
    umask's mode (usually 0644, world-readable), so an empty one is made first with 0600; SQLite
    gives its -wal and -journal files the database file's mode. A directory made here also gets a
    `.gitignore` of `*`, so a data directory inside a checkout never lands in a commit.
    """
    try:
        path.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ConfigError(f"data directory {path} cannot be created ({exc.strerror})") from None
    else:
        path.chmod(0o700)  # mkdir's mode is reduced by the umask, and an odd umask could drop bits
        (path / ".gitignore").write_text("*\n", encoding="utf-8")
    url = make_url(database_url) if database_url else None
    if url is not None and url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        # Already there, or its directory is missing: SQLite says so itself.
        with contextlib.suppress(FileExistsError, FileNotFoundError):
            os.close(os.open(url.database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def build_services(settings: Settings, environ: Mapping[str, str] | None = None) -> Services:
    env = os.environ if environ is None else environ
    clock: Clock = SystemClock()
    _ensure_data_dir(settings.data_dir, settings.database_url)
    # Not migrated here: a replica must start while the database is down (the lifecycle retries).
    sql = _Sql(settings)
    audit_sink = BufferedAuditSink(sql.audit, spool_path=settings.data_dir / "audit-spool.jsonl")
    store = sql.store(AuditLog(audit_sink.submit, sql.audit), sql.engine.dispose)
    metrics = build_metrics(env)
    telemetry, tracing_stop = build_telemetry(settings, env, metrics)
    ledger = settings.ledger
    sink = BufferedUsageSink(
        sql.usage,
        spool_path=settings.data_dir / "ledger-spool.jsonl",
        batch_size=ledger.batch_size,
        flush_interval_s=ledger.flush_interval_s,
        max_buffered=ledger.max_buffered,
        retry_interval_s=ledger.retry_interval_s,
    )
    metrics.add_gauges(
        "onshore_ledger_rows",
        "Ledger rows waiting in memory (pending), in the spool file (spooled), or set aside (rejected).",
        lambda: (
            ("pending", float(sink.pending)),
            ("spooled", float(sink.spooled)),
            ("rejected", float(sink.rejected)),
        ),
    )
    backends = [build_backend(b, settings.data_dir) for b in settings.backends]
    router = Router(backends, build_routes(settings.backends, settings.server.jurisdiction), clock)
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
        mode="livemin",  # down as soon as one worker has marked it down
    )
    cache = KeyCache()
    admission = build_admission(settings, store.limits, clock, telemetry, cache.org_name, store.usage)
    metrics.add_gauges(
        "onshore_queue_depth",
        "Requests waiting in the fair queue of each model with a capacity.",
        lambda: ((model, float(admission.queue.depth(model))) for model in admission.queued_models),
        label="model",
    )
    bus = _revocation_bus(settings)
    key_sync = KeySync(
        store.tenancy,
        cache,
        interval_s=settings.auth.sync_interval_s,
        bus=bus,
        notices={LIMITS_CHANGED_NOTICE: admission.sync.on_notice},
    )
    authenticator = Authenticator(
        store.digester, cache, store.tenancy, ready=lambda: cache.loaded, clock=clock, rewriter=store.tenancy
    )
    responses = build_responses(settings, sql.engine, clock)
    pipeline = build_pipeline(
        authenticator=authenticator,
        router=router,
        sink=sink,
        telemetry=telemetry,
        clock=clock,
        max_body_bytes=settings.server.max_body_bytes,
        drain_s=settings.ledger.drain_on_disconnect_s,
        pricing=admission.book,
        admission=admission.steps,
        sovereignty=Sovereignty(admission.book.policy, router, store.audit, telemetry),
        responses=responses.adapter,
    )
    lifecycle = Lifecycle()
    responses.register(lifecycle)
    lifecycle.add("ledger", start=_in_thread(sink.start), stop=lambda: asyncio.to_thread(sink.close, 30.0))
    lifecycle.add(
        "audit", start=_in_thread(audit_sink.start), stop=lambda: asyncio.to_thread(audit_sink.close, 30.0)
    )
    add_checkpoints(lifecycle, settings, store.audit_trail, env, on_verified=metrics.audit_chain_checked)
    database = _Database(settings, store, key_sync, cache, admission.sync, admission.seeder)
    lifecycle.add("database", start=database.start, stop=database.stop, check=database.check)
    lifecycle.add("keys", check=database.keys_check)
    lifecycle.add("limits", stop=admission.stop, check=database.limits_check)
    for backend in backends:
        lifecycle.add(f"backend:{backend.name}", start=backend.start, stop=backend.aclose)
    prober = BackendProber(router)
    lifecycle.add("backends", start=prober.start, stop=prober.stop, check=_backends_check(router))
    if bus is not None:
        lifecycle.add("revocation-bus", stop=bus.aclose)
    lifecycle.add("store", stop=_in_thread(store.close))
    config_problems = backend_problems(settings, env)
    for problem in config_problems:
        log.warning("misconfigured backend: %s", problem)
    lifecycle.add("configuration", check=_configuration_check(config_problems))
    budgets = BudgetWatch(admission.book, admission.counters.store, clock, cache, metrics.budgets_used)
    add_upkeep(lifecycle, metrics, budgets, tracing_stop)
    operators = build_operator_auth(settings, env, sql.operators)
    return Services(
        settings=settings,
        clock=clock,
        store=store,
        pipeline=pipeline,
        authenticator=authenticator,
        keys=cache,
        key_sync=key_sync,
        router=router,
        backends=backends,
        lifecycle=lifecycle,
        render_metrics=metrics.render,
        bus=bus,
        admin_token=break_glass_token(settings, env) if operators.break_glass_enabled else None,
        operators=operators,
        on_limits_changed=admission.sync.on_notice,
        limit_book=admission.book,
        queue=admission.queue,
        responses=responses.store,
        batches=build_batches(settings, sql.engine, clock, pipeline, cache, lifecycle, admission.traffic),
    )


class _Database:
    """Migrations and the key snapshot. A replica starts while the database is down: it refuses
    requests clearly (503) until the first key load succeeds, retried in the background."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        key_sync: KeySync,
        cache: KeyCache,
        limit_sync: LimitSync,
        quota_seeder: QuotaSeeder,
    ) -> None:
        self._settings = settings
        self._store = store
        self._key_sync = key_sync
        self._cache = cache
        self._limit_sync = limit_sync
        self._quota_seeder = quota_seeder
        self._retry: asyncio.Task[None] | None = None

    async def start(self) -> None:
        try:
            await self._connect()
        except StoreError:
            log.warning("the database is unreachable; serving will start when it answers (readyz says so)")
            self._retry = asyncio.create_task(self._keep_trying(), name="onshore-database-retry")

    async def _connect(self) -> None:
        if self._settings.database.auto_migrate:
            await asyncio.to_thread(upgrade, self._settings.database_url)
        # Limits before keys: the first request a key can make must already meet its limits.
        await self._limit_sync.refresh(force=True)
        # Then the month's quotas from the ledger: a counter store that came back empty never starts at 0.
        await self._quota_seeder.seed()
        await self._key_sync.load()
        self._cache.mark_loaded()
        self._key_sync.start()
        self._limit_sync.start()
        self._quota_seeder.start()

    async def _keep_trying(self) -> None:
        while True:
            await asyncio.sleep(_DATABASE_RETRY_S)
            try:
                await self._connect()
            except StoreError:
                continue
            log.info("the database answers: keys loaded, serving")
            return

    async def stop(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
        await self._key_sync.stop()
        await self._limit_sync.stop()
        await self._quota_seeder.stop()

    async def check(self) -> Check:
        try:
            await asyncio.to_thread(self._store.health.ping)
        except StoreError:
            return Check(False, "failing")
        return Check(True, "ok")

    async def limits_check(self) -> Check:
        if self._limit_sync.loaded_version < 0:
            return Check(False, "not loaded")
        return Check(True, "ok") if self._limit_sync.healthy else Check(False, "stale")

    async def keys_check(self) -> Check:
        if not self._cache.loaded:
            return Check(False, "not loaded")
        return Check(True, "ok") if self._key_sync.healthy else Check(False, "stale")


def _backends_check(router: Router) -> Callable[[], Awaitable[Check]]:
    async def check() -> Check:
        healthy = sum(1 for s in router.states.values() if s.healthy)
        total = len(router.states)
        # Informative, never failing: a load balancer must not pull every replica when an engine is down.
        return Check(True, f"{healthy}/{total} healthy")

    return check


def _configuration_check(problems: list[str]) -> Callable[[], Awaitable[Check]]:
    # Failing, on purpose: a backend whose credentials are missing answers every partner with 502.
    detail = "ok" if not problems else f"{len(problems)} backend(s) misconfigured (see the log)"

    async def check() -> Check:
        return Check(not problems, detail)

    return check


def _in_thread(function: Callable[[], None]) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        await asyncio.to_thread(function)

    return run


def _revocation_bus(settings: Settings) -> RevocationBus | None:
    if not settings.redis.url:
        return None
    from onshore.store.state.redis import RedisRevocationBus  # noqa: PLC0415 - only with Redis

    return RedisRevocationBus(settings.redis.url)


# Operator wiring for the CLI (bootstrap/operator.py), imported so `onshore.bootstrap` keeps its names.
from onshore.bootstrap.operator import (  # noqa: E402
    database_revision,
    migrate_database,
    probe_remote_backend,
    publish_revocation,
)

__all__ = [
    "build_services",
    "database_revision",
    "load_secret",
    "migrate_database",
    "open_store",
    "probe_remote_backend",
    "publish_revocation",
]
