"""The Batch API's SQL ports (``FileIndex``, ``BatchStore``) on SQLite and PostgreSQL: one
organisation never reaches another's records, a batch is leased to one runner at a time, a runner
that lost its lease writes nothing, and results come back in input order."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from onshore.domain.batches import Batch, BatchStatus, RequestResult, StoredFile
from onshore.domain.usage import UsageRecord
from onshore.store.sql.batches import SqlBatchStore
from onshore.store.sql.files import SqlFileIndex
from onshore.store.sql.ledger import SqlUsageStore

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def _file(file_id: str, org: str = "org_a", at: datetime = T0, **extra: object) -> StoredFile:
    return StoredFile(file_id, org, "batch", f"{file_id}.jsonl", 10, at, **extra)  # type: ignore[arg-type]


def _batch(batch_id: str, org: str = "org_a", at: datetime = T0) -> Batch:
    return Batch(
        id=batch_id,
        org_id=org,
        key_id="key_1",
        endpoint="/v1/chat/completions",
        input_file_id="file-1",
        completion_window="24h",
        status=BatchStatus.VALIDATING,
        created_at=at,
        expires_at=at + timedelta(hours=24),
        metadata={"job": "x"},
    )


def test_files_are_kept_per_organisation(engine: Engine) -> None:
    index = SqlFileIndex(engine)
    for i in range(3):
        index.add(_file(f"file-{i}", at=T0 + timedelta(seconds=i)))
    index.add(_file("file-other", org="org_b"))
    assert index.get("org_a", "file-1") == _file("file-1", at=T0 + timedelta(seconds=1))
    assert index.get("org_b", "file-1") is None
    newest = index.list("org_a", purpose=None, after=None, limit=2, newest_first=True)
    assert [f.id for f in newest] == ["file-2", "file-1"]
    rest = index.list("org_a", purpose="batch", after="file-1", limit=10, newest_first=True)
    assert [f.id for f in rest] == ["file-0"]
    oldest = index.list("org_a", purpose=None, after=None, limit=10, newest_first=False)
    assert [f.id for f in oldest] == ["file-0", "file-1", "file-2"]
    assert not index.remove("org_b", "file-1")
    assert index.remove("org_a", "file-1")
    assert index.get("org_a", "file-1") is None


def test_expired_files_are_listed_oldest_first(engine: Engine) -> None:
    index = SqlFileIndex(engine)
    index.add(_file("file-late", expires_at=T0 + timedelta(days=2)))
    index.add(_file("file-soon", expires_at=T0 + timedelta(days=1)))
    index.add(_file("file-kept"))
    assert [f.id for f in index.expired(T0 + timedelta(days=3), 10)] == ["file-soon", "file-late"]
    assert index.expired(T0, 10) == []


def test_a_batch_is_created_with_its_requests_and_read_per_organisation(engine: Engine) -> None:
    store = SqlBatchStore(engine)
    store.create(_batch("batch_1"), ["a", "b", "c"])
    found = store.get("org_a", "batch_1")
    assert found is not None
    assert (found.status, found.request_total, found.metadata) == (BatchStatus.VALIDATING, 3, {"job": "x"})
    assert store.get("org_b", "batch_1") is None
    assert store.request_cancel("org_b", "batch_1", T0) is None
    assert store.pending_lines("batch_1") == [0, 1, 2]
    store.create(_batch("batch_2", at=T0 + timedelta(seconds=1)), ["a"])
    assert [b.id for b in store.list("org_a", after=None, limit=10)] == ["batch_2", "batch_1"]
    assert [b.id for b in store.list("org_a", after="batch_2", limit=10)] == ["batch_1"]
    assert store.list("org_b", after=None, limit=10) == []


def test_one_runner_holds_a_batch_until_its_lease_ends(engine: Engine) -> None:
    store = SqlBatchStore(engine)
    store.create(_batch("batch_1"), ["a", "b"])
    claimed = store.claim("replica_a", T0, 30.0)
    assert claimed is not None and claimed.id == "batch_1"
    assert store.claim("replica_b", T0 + timedelta(seconds=10), 30.0) is None
    assert store.renew("batch_1", "replica_a", T0 + timedelta(seconds=20), 30.0) is BatchStatus.VALIDATING
    assert store.claim("replica_b", T0 + timedelta(seconds=40), 30.0) is None  # renewed to 50 s
    taken = store.claim("replica_b", T0 + timedelta(seconds=51), 30.0)
    assert taken is not None
    # The runner that lost the lease writes nothing: no result, no status.
    assert store.record("batch_1", "replica_a", [RequestResult(0, False, '{"x":1}')]) is None
    assert not store.set_status("batch_1", "replica_a", BatchStatus.IN_PROGRESS, T0)
    assert store.renew("batch_1", "replica_a", T0, 30.0) is None
    assert store.pending_lines("batch_1") == [0, 1]


def test_results_are_committed_once_and_read_in_input_order(engine: Engine) -> None:
    store = SqlBatchStore(engine)
    store.create(_batch("batch_1"), ["a", "b", "c"])
    assert store.claim("replica_a", T0, 30.0) is not None
    assert store.set_status(
        "batch_1", "replica_a", BatchStatus.IN_PROGRESS, T0, from_status={BatchStatus.VALIDATING}
    )
    assert not store.set_status(
        "batch_1", "replica_a", BatchStatus.IN_PROGRESS, T0, from_status={BatchStatus.VALIDATING}
    )
    status = store.record("batch_1", "replica_a", [RequestResult(2, False, "c"), RequestResult(1, True, "b")])
    assert status is BatchStatus.IN_PROGRESS
    store.record("batch_1", "replica_a", [RequestResult(2, False, "c again")])  # already done: kept as is
    store.record("batch_1", "replica_a", [RequestResult(0, False, "a")])
    assert store.pending_lines("batch_1") == []
    assert list(store.results("batch_1", failed=False)) == ["a", "c"]
    assert list(store.results("batch_1", failed=True)) == ["b"]
    found = store.get("org_a", "batch_1")
    assert found is not None and found.moments["in_progress"] == T0


def test_a_cancel_is_seen_by_the_runner_and_wins_over_its_next_step(engine: Engine) -> None:
    store = SqlBatchStore(engine)
    store.create(_batch("batch_1"), ["a"])
    assert store.claim("replica_a", T0, 30.0) is not None
    cancelled = store.request_cancel("org_a", "batch_1", T0 + timedelta(seconds=1))
    assert cancelled is not None and cancelled.status is BatchStatus.CANCELLING
    assert store.record("batch_1", "replica_a", [RequestResult(0, False, "a")]) is BatchStatus.CANCELLING
    assert not store.set_status(
        "batch_1", "replica_a", BatchStatus.FINALIZING, T0, from_status={BatchStatus.IN_PROGRESS}
    )
    assert store.set_status("batch_1", "replica_a", BatchStatus.CANCELLED, T0 + timedelta(seconds=2))
    final = store.get("org_a", "batch_1")
    assert final is not None and final.status is BatchStatus.CANCELLED
    assert store.claim("replica_b", T0 + timedelta(days=1), 30.0) is None  # final: nobody runs it
    again = store.request_cancel("org_a", "batch_1", T0 + timedelta(seconds=3))
    assert again is not None and again.status is BatchStatus.CANCELLED


def test_replicas_claiming_together_never_share_a_batch(engine: Engine) -> None:
    store = SqlBatchStore(engine)
    for i in range(6):
        store.create(_batch(f"batch_{i}", at=T0 + timedelta(seconds=i)), ["a"])
    claims: list[str] = []
    lock = threading.Lock()

    def replica(name: str) -> None:
        for _ in range(6):
            got = store.claim(name, T0 + timedelta(minutes=1), 600.0)
            if got is not None:
                with lock:
                    claims.append(got.id)

    threads = [threading.Thread(target=replica, args=(f"replica_{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claims) == [f"batch_{i}" for i in range(6)]


def test_the_ledger_keeps_the_batch_id(engine: Engine) -> None:
    ledger = SqlUsageStore(engine)
    row = UsageRecord(
        "req_1", T0, "org_a", "key_1", "chat.completions", "m", "b", 200, False, batch_id="batch_1"
    )
    ledger.write_batch(
        [row, UsageRecord("req_2", T0, "org_a", "key_1", "chat.completions", "m", "b", 200, False)]
    )
    rows = {r.request_id: r.batch_id for r in ledger.records(T0, T0 + timedelta(seconds=1))}
    assert rows == {"req_1": "batch_1", "req_2": None}
