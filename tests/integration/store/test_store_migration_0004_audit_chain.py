"""Migration 0004 chains the audit entries written before it, in the order they were written, and
entries a replica of the previous release writes during the roll join the chain afterwards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from onshore.admin.audit_chain import verify_trail
from onshore.domain.audit import AuditEntry
from onshore.store.sql import SqlAuditLog, migrate
from onshore.store.sql.engine import make_engine

T0 = datetime(2026, 11, 30, 23, 59, 59, 999_999, tzinfo=UTC)
# What a replica on 0003 inserts: no seq, no hashes.
_OLD_ENTRY = (
    "INSERT INTO audit_log (id, at, actor, action, target_type, target_id, org_id, detail)"
    " VALUES (:id, :at, 'cli:ops', 'key.revoke', 'api_key', 'key_1', NULL, :detail)"
)


def test_entries_before_the_chain_are_chained_in_order(blank_database_url: str) -> None:
    migrate.upgrade(blank_database_url, "0003")
    engine = make_engine(blank_database_url)
    try:
        with engine.begin() as conn:
            # Inserted out of order; the same instant twice (then the id decides).
            for entry_id, at in (("aud_c", T0 + timedelta(hours=1)), ("aud_b", T0), ("aud_a", T0)):
                conn.execute(text(_OLD_ENTRY), {"id": entry_id, "at": at, "detail": '{"name": "\\ud55c"}'})

        migrate.upgrade(blank_database_url)

        log = SqlAuditLog(engine)
        assert [(e.id, e.seq) for e in log.walk()] == [("aud_a", 1), ("aud_b", 2), ("aud_c", 3)]
        verdict = verify_trail(log, None)
        assert verdict.intact and verdict.head_seq == 3
        with engine.connect() as conn:
            counter = conn.execute(text("SELECT value FROM change_counters WHERE name = 'audit'"))
            assert counter.scalar_one() == 3

        # A replica still on 0003 writes one more; the next writer of this release chains it.
        with engine.begin() as conn:
            conn.execute(text(_OLD_ENTRY), {"id": "aud_old", "at": T0 + timedelta(hours=2), "detail": "{}"})
        assert not verify_trail(log, None).intact
        log.append_many(
            [AuditEntry.create(actor="admin-api", action="org.create", target_type="organisation")]
        )
        assert [e.id for e in log.walk()][3] == "aud_old"
        assert verify_trail(log, None).intact
    finally:
        engine.dispose()
    assert migrate.check_models_match(blank_database_url) == []
