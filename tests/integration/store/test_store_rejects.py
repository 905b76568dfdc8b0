"""One row the database refuses never blocks the others (issue 13, item 1).

Found from outside: ``{"model": "x\\u0000"}`` made its ledger batch fail on PostgreSQL on every
retry, no later row was written, and after a restart the spooled bad row blocked writing again.
Now a refused batch is bisected, every other row is written exactly once, and the refused rows are
set aside in ``ledger_rejects`` (or a file beside the spool), counted and logged by id only.
"""

from __future__ import annotations

import json
import logging
import random
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from tests.support.usage_series import ledger_record

from onshore.domain.usage import UsageRecord
from onshore.ports import StoreError
from onshore.store.buffered import BufferedUsageSink
from onshore.store.codecs import USAGE_CODEC
from onshore.store.setaside import RecordsRefused, Rejected, SetAsideFile
from onshore.store.spool import Spool
from onshore.store.sql import SqlRejectStore, SqlUsageStore, make_engine
from onshore.store.sql import migrate as migrations
from onshore.store.sql.schema import ledger_rejects, usage_records

T0 = datetime(2026, 3, 1, tzinfo=UTC)
CANARY = "CANARY-b7e1"  # inside every refused value: must reach no log line


def record(request_id: str, org_id: str = "org_a", **overrides: object) -> UsageRecord:
    fields = {
        "org_id": org_id,
        "prompt_tokens": 3,
        "completion_tokens": 4,
        "total_tokens": 7,
        "latency_ms": 5.0,
    }
    return ledger_record(request_id, T0, **{**fields, **overrides})


def poisoned(request_id: str, org_id: str = "org_a") -> UsageRecord:
    return record(request_id, org_id, model=f"{CANARY}\x00", status=404, error_code="model_not_found")


def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.005)


def stored_ids(engine: Engine, org_id: str | None = None) -> list[str]:
    query = select(usage_records.c.request_id)
    if org_id is not None:
        query = query.where(usage_records.c.org_id == org_id)
    with engine.connect() as conn:
        return [str(r) for r in conn.execute(query).scalars()]


def rejected_keys(engine: Engine) -> Counter[str]:
    with engine.connect() as conn:
        return Counter(str(k) for k in conn.execute(select(ledger_rejects.c.record_key)).scalars())


class NulRefusingWriter:
    """The real ledger on SQLite, refusing what PostgreSQL refuses (a NUL byte in a string).

    SQLite stores NULs happily, so this double makes the property test meaningful on it; the
    PostgreSQL tests below use the real refusal. It can also be taken down for some calls.
    """

    def __init__(self, real: SqlUsageStore, transient_calls: set[int] | None = None) -> None:
        self.real = real
        self.transient_calls = transient_calls or set()
        self.calls = 0
        self.deliveries: Counter[str] = Counter()
        self.lock = threading.Lock()

    def write_batch(self, records: Sequence[UsageRecord]) -> None:
        with self.lock:
            self.calls += 1
            call = self.calls
        if call in self.transient_calls:
            raise StoreError("database unavailable")
        if any("\x00" in (r.model or "") or "\x00" in (r.client_request_id or "") for r in records):
            raise RecordsRefused("writing usage records failed: refused", "DataError")
        self.real.write_batch(records)
        with self.lock:
            self.deliveries.update(r.request_id for r in records)

    def set_aside(self, rejects: Sequence[Rejected], /) -> None:
        self.real.set_aside(rejects)


@pytest.fixture(scope="module")
def sqlite_ledger(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    url = f"sqlite:///{tmp_path_factory.mktemp('rejects') / 'ledger.db'}"
    migrations.upgrade(url)
    return make_engine(url)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    size=st.integers(min_value=0, max_value=120),
    bad_share=st.sampled_from([0.0, 0.02, 0.2, 1.0]),
    batch_size=st.integers(min_value=1, max_value=40),
    transient=st.sets(st.integers(min_value=1, max_value=12), max_size=4),
    seed=st.randoms(use_true_random=False),
)
def test_property_every_other_row_is_written_exactly_once(
    sqlite_ledger: Engine,
    size: int,
    bad_share: float,
    batch_size: int,
    transient: set[int],
    seed: random.Random,
) -> None:
    org = "org_" + uuid.uuid4().hex[:12]  # one organisation per example: the database is shared
    rows: list[UsageRecord] = []
    bad: set[str] = set()
    for i in range(size):
        request_id = f"{org}-{i:04d}"
        if seed.random() < bad_share:
            bad.add(request_id)
            rows.append(
                poisoned(request_id, org) if i % 2 else record(request_id, org, client_request_id="c\x00")
            )
        else:
            rows.append(record(request_id, org))
    writer = NulRefusingWriter(SqlUsageStore(sqlite_ledger), transient)
    with tempfile.TemporaryDirectory() as spool_dir:
        sink = BufferedUsageSink(
            writer,
            spool_path=Path(spool_dir) / "ledger.jsonl",
            batch_size=batch_size,
            flush_interval_s=0.005,
            retry_interval_s=0.005,
        )
        sink.start()
        for row in rows:
            sink.submit(row)
        good = {r.request_id for r in rows} - bad
        wait_until(lambda: set(writer.deliveries) >= good and sink.rejected >= len(bad) and not sink.pending)
        sink.close(timeout_s=5)

    stored = stored_ids(sqlite_ledger, org)
    assert sorted(stored) == sorted(good)  # each good row once, none missing, no bad one
    # A write slower than the flush interval is also copied to the spool (the loss bound), so a
    # row may be *delivered* twice; the idempotent insert keeps it once, as asserted above.
    assert set(writer.deliveries) == good
    assert {k for k in rejected_keys(sqlite_ledger) if k.startswith(org)} == bad
    assert sink.rejected == len(bad)
    assert (sink.pending, sink.spooled) == (0, 0)


def test_refused_rows_go_to_a_file_when_the_table_refuses_too(
    sqlite_ledger: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class BrokenRejects:
        def set_aside(self, rejects: Sequence[Rejected], /) -> None:
            raise StoreError("the database is unavailable")

    writer = NulRefusingWriter(SqlUsageStore(sqlite_ledger))
    spool_path = tmp_path / "ledger.jsonl"
    sink = BufferedUsageSink(writer, spool_path=spool_path, flush_interval_s=0.01, rejects=BrokenRejects())
    org = "org_file"
    caplog.set_level(logging.INFO)
    sink.start()
    for row in [record("f1", org), poisoned("f-bad", org), record("f2", org)]:
        sink.submit(row)
    wait_until(lambda: sink.written == 2 and sink.rejected == 1)
    sink.close()

    [entry] = SetAsideFile.beside(spool_path).read()
    assert (entry["kind"], entry["key"], entry["reason"]) == ("usage", "f-bad", "DataError")
    assert json.loads(entry["payload"])["model"] == f"{CANARY}\x00"  # kept whole, as escaped JSON
    assert sorted(stored_ids(sqlite_ledger, org)) == ["f1", "f2"]
    assert "f-bad" in caplog.text
    assert CANARY not in caplog.text


# --- real PostgreSQL: the refusal that was found from outside --------------------------------------


@pytest.mark.postgres
def test_postgres_nul_rows_are_set_aside_and_every_other_row_written_once(
    postgres_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(postgres_url)
    rng = random.Random(13)
    rows = [record(f"pg-{i:04d}") for i in range(400)]
    bad_positions = sorted(rng.sample(range(400), 9))
    refusals = [
        lambda r: replace(r, model=f"{CANARY}\x00"),  # the NUL byte of issue 13
        lambda r: replace(r, client_request_id=f"{CANARY}\x00"),
        lambda r: replace(r, model=f"{CANARY}\ud800"),  # a lone surrogate: not encodable at all
        lambda r: replace(r, prompt_tokens=2**40),  # out of an INTEGER's range
    ]
    for n, position in enumerate(bad_positions):
        rows[position] = refusals[n % len(refusals)](rows[position])
    bad = {rows[p].request_id for p in bad_positions}
    caplog.set_level(logging.INFO)
    try:
        sink = BufferedUsageSink(
            SqlUsageStore(engine), spool_path=tmp_path / "ledger.jsonl", batch_size=50, flush_interval_s=0.01
        )
        sink.start()
        for row in rows:
            sink.submit(row)
        wait_until(lambda: len(stored_ids(engine)) == 400 - len(bad) and sink.rejected == len(bad))
        sink.close()

        stored = stored_ids(engine)
        assert len(stored) == len(set(stored)) == 400 - len(bad)
        assert set(stored) == {r.request_id for r in rows} - bad
        assert rejected_keys(engine) == Counter(bad)
        reasons = {r.reason for r in SqlRejectStore(engine).list_rejects(kind="usage")}
        assert reasons <= {"DataError", "UnicodeEncodeError", "NumericValueOutOfRange"}
        assert "DataError" in reasons
        assert not sink.spooled and not (tmp_path / "ledger.rejected.jsonl").exists()
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert {r.args[1] for r in errors if isinstance(r.args, tuple)} == bad  # type: ignore[misc]
        assert CANARY not in caplog.text
        assert sink.healthy and sink.failures == 0  # a refusal is not an outage
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_a_poisoned_spool_does_not_block_after_a_restart(postgres_url: str, tmp_path: Path) -> None:
    # The restart half of the defect: the bad row waited in the spool and blocked every replay.
    spool_path = tmp_path / "ledger.jsonl"
    spool = Spool.claim(spool_path, USAGE_CODEC)
    spool.append([record("s1"), poisoned("s-bad"), record("s2"), record("s3")])
    spool.release()
    engine = make_engine(postgres_url)
    try:
        sink = BufferedUsageSink(SqlUsageStore(engine), spool_path=spool_path, flush_interval_s=0.01)
        sink.start()
        sink.submit(record("after-restart"))
        wait_until(lambda: len(stored_ids(engine)) == 4 and not spool_path.exists())
        sink.close()

        assert sorted(stored_ids(engine)) == ["after-restart", "s1", "s2", "s3"]
        assert rejected_keys(engine) == Counter({"s-bad": 1})
        [reject] = SqlRejectStore(engine).list_rejects()
        assert json.loads(reject.payload)["model"] == f"{CANARY}\x00"

        # Replaying the same spool again (a crash before its removal) adds nothing anywhere.
        spool = Spool.claim(spool_path, USAGE_CODEC)
        spool.append([record("s1"), poisoned("s-bad")])
        spool.release()
        again = BufferedUsageSink(SqlUsageStore(engine), spool_path=spool_path, flush_interval_s=0.01)
        again.start()
        wait_until(lambda: not spool_path.exists())
        again.close()
        assert len(stored_ids(engine)) == 4
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(ledger_rejects)).scalar_one() == 1
    finally:
        engine.dispose()
