"""Operator wiring for the CLI (cli/db, cli/backends, cli/keys, cli/limits).

The faces see no adapter: what the operator's commands need from one is wired here.
"""

from __future__ import annotations

from onshore.config.settings import RemoteBackendSettings, Settings
from onshore.ports import StoreError


def migrate_database(settings: Settings) -> str:
    """Apply every migration; returns "<database, password hidden> is at <revision>"."""
    from onshore.bootstrap import _ensure_data_dir  # noqa: PLC0415 - avoids an import cycle
    from onshore.store.sql import migrate  # noqa: PLC0415 - only for `onshore db`
    from onshore.store.sql.engine import redact_url  # noqa: PLC0415

    _ensure_data_dir(settings.data_dir, settings.database_url)
    migrate.upgrade(settings.database_url)
    return f"{redact_url(settings.database_url)} is at {migrate.head_revision()}"


def database_revision(settings: Settings) -> tuple[str | None, str]:
    """(the database's migration revision or None, the newest this release ships)."""
    from onshore.store.sql import migrate  # noqa: PLC0415 - only for `onshore db`

    return migrate.current_revision(settings.database_url), migrate.head_revision()


async def probe_remote_backend(spec: RemoteBackendSettings) -> bool:
    """Whether a remote engine answers now (`onshore backends list`)."""
    from onshore.backends.upstream import RemoteBackend  # noqa: PLC0415 - aiohttp only for this

    backend = RemoteBackend(spec)
    await backend.start()
    try:
        return await backend.check_health()
    finally:
        await backend.aclose()


async def publish_revocation(settings: Settings, key_id: str) -> bool | None:
    """Tell every replica through Redis now: True if sent, False if Redis failed, None without it."""
    from onshore.bootstrap import _revocation_bus  # noqa: PLC0415 - avoids an import cycle

    bus = _revocation_bus(settings)
    if bus is None:
        return None
    try:
        await bus.publish(key_id)
    except StoreError:
        return False
    finally:
        await bus.aclose()
    return True
