"""Operator wiring for the CLI (cli/db, cli/backends, cli/keys, cli/limits).

The faces see no adapter: what the operator's commands need from one is wired here.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from onshore.config.settings import RemoteBackendSettings, Settings
from onshore.errors import ConfigError
from onshore.ports import StoreError


def migrate_database(settings: Settings) -> str:
    """Apply every migration; returns "<database, password hidden> is at <revision>"."""
    from onshore.bootstrap import _ensure_data_dir  # noqa: PLC0415 - avoids an import cycle
    from onshore.store.sql import migrate  # noqa: PLC0415 - only for `onshore db`
    from onshore.store.sql.engine import redact_url  # noqa: PLC0415

    _ensure_data_dir(settings.data_dir, settings.database_url)
    migrate.upgrade(settings.database_url)
    return f"{redact_url(settings.database_url)} is at {migrate.head_revision()}"


def backup_database(settings: Settings, target: Path) -> str:
    """Copy a SQLite database online and consistently to ``target`` (which must not exist).

    SQLite's backup API copies page by page under the database's own locks, so a running gateway
    goes on serving and the copy is one consistent moment. PostgreSQL has its own tools (pg_dump,
    WAL archiving; docs/operations.md), better than anything this command could do, so it refuses.

    Raises:
        ConfigError: the database is not SQLite, or the target exists or cannot be written.
    """
    from onshore.store.sql.engine import normalise_url  # noqa: PLC0415 - only for `onshore db`

    url = normalise_url(settings.database_url)
    source = url.database
    if url.get_backend_name() != "sqlite" or not source or source == ":memory:":
        raise ConfigError(
            "onshore db backup copies a SQLite database; back up PostgreSQL with pg_dump or WAL "
            "archiving (docs/operations.md, 'Backup and restore')"
        )
    if not Path(source).exists():
        raise ConfigError(f"there is no database at {source} to back up")
    if target.exists():
        raise ConfigError(f"{target} exists: choose a new file (a backup never overwrites one)")
    partial = target.with_name(target.name + ".partial")
    try:
        with (
            contextlib.closing(sqlite3.connect(source)) as db,
            contextlib.closing(sqlite3.connect(partial)) as copy,
        ):
            db.backup(copy)
        partial.chmod(0o600)  # the ledger, keys' digests and the audit trail: the owner's only
        partial.rename(target)
    except (OSError, sqlite3.Error) as exc:
        partial.unlink(missing_ok=True)
        raise ConfigError(f"the backup to {target} failed: {exc.__class__.__name__}") from None
    return f"{source} copied to {target} ({target.stat().st_size:,} bytes)"


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
