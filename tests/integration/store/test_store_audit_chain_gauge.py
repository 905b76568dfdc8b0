"""The serving replica's periodic checkpoint verifies the audit chain first (SQLite and PostgreSQL):
it reports intact or broken (the ``onshore_audit_chain_ok`` gauge) and never signs a broken chain,
which would vouch for the tampering."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, update

from onshore.bootstrap.audit import add_checkpoints
from onshore.config.settings import Settings
from onshore.domain.audit import AuditEntry
from onshore.lifecycle import Lifecycle
from onshore.observability.metrics import GatewayMetrics
from onshore.store.sql import SqlAuditLog
from onshore.store.sql.schema import audit_log

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _entry(i: int) -> AuditEntry:
    return AuditEntry(
        id=f"aud_{i:03d}",
        at=T0 + timedelta(seconds=i),
        actor="admin-api",
        action="key.revoke",
        target_type="api_key",
        target_id=f"key_{i}",
        org_id="org_a",
        detail={"n": i},
    )


async def _until(done: Callable[[], bool]) -> None:
    for _ in range(250):
        if done():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the periodic checkpoint did not get there")


async def test_the_checkpoint_reports_the_chain_and_never_signs_a_broken_one(
    engine: Engine, tmp_path: Path
) -> None:
    trail = SqlAuditLog(engine)
    trail.append_many([_entry(i) for i in range(1, 6)])
    settings = Settings(data_dir=tmp_path, audit={"checkpoint_interval_s": 0.05})
    metrics = GatewayMetrics()
    seen: list[bool] = []

    def verified(intact: bool) -> None:
        seen.append(intact)
        metrics.audit_chain_checked(intact)

    lifecycle = Lifecycle()
    add_checkpoints(lifecycle, settings, trail, {}, on_verified=verified)
    await lifecycle.start()
    try:
        await _until(lambda: len(trail.checkpoints()) == 1)  # verified, then signed
        assert seen[0] is True
        assert "onshore_audit_chain_ok 1.0" in metrics.render().decode()
        with engine.begin() as conn:  # someone with write access edits an entry
            conn.execute(update(audit_log).where(audit_log.c.seq == 3).values(actor="nobody"))
        trail.append_many([_entry(6)])  # the head moves: a checkpoint would be due
        await _until(lambda: False in seen)
        await _until(lambda: seen.count(False) >= 2)  # a pass after, and still no checkpoint
    finally:
        await lifecycle.stop()
    assert seen[-1] is False
    assert len(trail.checkpoints()) == 1  # nothing signed over the broken chain
    assert "onshore_audit_chain_ok 0.0" in metrics.render().decode()
