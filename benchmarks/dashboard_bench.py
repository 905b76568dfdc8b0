"""The dashboard's overview on a ledger of a million rows: how fast each page's data comes back.

    .venv/bin/python benchmarks/dashboard_bench.py [--rows 1000000] [--runs 20] [--out FILE.json]

On PostgreSQL, in a database of its own (``onshore_bench``, created, then dropped at the end; the
server is ``ONSHORE_TEST_POSTGRES_URL`` or the local one):

1. Load: ``--rows`` ledger rows over 90 days (20 organisations of Zipf-like sizes, each using two or
   three of 6 models, each model served by one or two of 4 backends; a daily cycle in Korean time;
   3 % errors; log-normal latencies) by COPY into a ledger at revision 0005, then time migration 0006
   (the table, the trigger and the backfill of every row).
2. Queries: each overview the console draws, through ``onshore.admin.overview`` on the SQL store
   (what the web page calls): ``--runs`` timed runs after one warm-up, p50 and p99. For comparison,
   "month by day by organisation" as a GROUP BY over the ledger's rows instead of the rollup.
3. Insert cost: 10,000 rows through ``SqlUsageStore.write_batch`` in batches of 500 (the ledger sink's
   batch size) with the rollup trigger and without it, and the executemany path the ledger used before
   (one INSERT per row, so the statement trigger ran per row) with the trigger.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import text

from onshore.admin.org_usage import orgs_usage
from onshore.admin.overview import overview
from onshore.domain.usage import UsageRecord
from onshore.store.sql import migrate, rollup_triggers
from onshore.store.sql.engine import make_engine
from onshore.store.sql.ledger import SqlUsageStore, _values
from onshore.store.sql.limits import SqlLimitsStore
from onshore.store.sql.tenancy import SqlTenancyStore

ADMIN_URL = os.environ.get("ONSHORE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
DATABASE = "onshore_bench"
END = datetime(2026, 12, 1, tzinfo=UTC)  # the ledger covers the 90 days before; "now" is its end
DAYS = 90
MODELS = ["exaone-32b", "llama-3.3-70b", "qwen3-32b", "gemma-3-27b", "solar-pro", "minilm-embed"]
SERVED_BY = {  # model -> backends serving it
    "exaone-32b": ["vllm-a", "vllm-b"],
    "llama-3.3-70b": ["vllm-b"],
    "qwen3-32b": ["vllm-c", "vllm-a"],
    "gemma-3-27b": ["vllm-c"],
    "solar-pro": ["sglang-d"],
    "minilm-embed": ["sglang-d"],
}
KST = timedelta(hours=9)


def _url(database: str) -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + database


def _admin(sql: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


def generate(conn: psycopg.Connection[tuple[object, ...]], rows: int, seed: int = 1) -> None:
    """COPY ``rows`` ledger rows and 20 organisations into the database."""
    rng = random.Random(seed)
    orgs = [f"org-{i:02d}" for i in range(20)]
    weights = [1 / (i + 1) ** 0.8 for i in range(20)]
    uses = {org: rng.sample(MODELS, rng.choice([2, 3])) for org in orgs}
    # Hours weighted by a daily cycle in Korean time (busy 9-18 KST, quiet at night).
    hours = [END - timedelta(hours=h + 1) for h in range(DAYS * 24)]
    hour_weights = [0.25 + (1.0 if 9 <= (h + KST).hour < 18 else 0.3) for h in hours]
    with conn.cursor() as cur:
        for i, org in enumerate(orgs):
            cur.execute(
                "INSERT INTO organisations (id, name, created_at) VALUES (%s, %s, %s)",
                (f"oid-{i:02d}", org, END - timedelta(days=DAYS + 1)),
            )
        columns = (
            "request_id, created_at, org_id, key_id, endpoint, model, backend, status, streamed,"
            " prompt_tokens, completion_tokens, total_tokens, ttft_ms, latency_ms, error_code,"
            " cached_tokens, cost_micro_krw, jurisdiction"
        )
        with cur.copy(f"COPY usage_records ({columns}) FROM STDIN") as copy:
            chosen_orgs = rng.choices(range(20), weights, k=rows)
            chosen_hours = rng.choices(hours, hour_weights, k=rows)
            for n in range(rows):
                o = chosen_orgs[n]
                model = rng.choice(uses[orgs[o]])
                status = 200 if rng.random() > 0.03 else rng.choice([400, 401, 404, 429, 500, 502, 503])
                embed = model == "minilm-embed"
                prompt = int(rng.lognormvariate(6.5, 1.0)) if status == 200 else 0
                completion = 0 if embed or status != 200 else int(rng.lognormvariate(5.0, 0.9))
                latency = (
                    rng.lognormvariate(3.0 if embed else 7.3, 0.8) if status < 500 else rng.uniform(1, 30000)
                )
                at = chosen_hours[n] + timedelta(seconds=rng.random() * 3600)
                copy.write_row(
                    (
                        f"req-{n:09d}",
                        at,
                        f"oid-{o:02d}",
                        f"key-{o:02d}-{n % 3}",
                        "chat.completions",
                        model,
                        rng.choice(SERVED_BY[model]),
                        status,
                        not embed,
                        prompt,
                        completion,
                        prompt + completion,
                        None if embed else latency / 5,
                        latency,
                        None if status == 200 else "upstream_error",
                        prompt // 4,
                        prompt * 2 + completion * 8 if status == 200 else None,
                        "KR",
                    )
                )
    conn.commit()


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    fn()  # warm-up: plans and caches, as a page seen before
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, round(0.99 * (len(samples) - 1)))]


def records(prefix: str, count: int) -> list[UsageRecord]:
    rng = random.Random(prefix)
    return [
        UsageRecord(
            request_id=f"{prefix}-{n}",
            created_at=END - timedelta(seconds=rng.randint(0, 3600)),
            org_id=f"oid-{rng.randrange(20):02d}",
            key_id="key",
            endpoint="chat.completions",
            model=(model := rng.choice(MODELS)),
            backend=rng.choice(SERVED_BY[model]),
            status=200,
            streamed=True,
            prompt_tokens=700,
            completion_tokens=150,
            total_tokens=850,
            ttft_ms=80.0,
            latency_ms=rng.lognormvariate(7.3, 0.8),
            cached_tokens=100,
            cost_micro_krw=2600,
            jurisdiction="KR",
        )
        for n in range(count)
    ]


def insert_cost(
    store: SqlUsageStore,
    label: str,
    batches: list[list[UsageRecord]],
    write: Callable[[list[UsageRecord]], None],
) -> dict[str, object]:
    start = time.perf_counter()
    per_batch = []
    for batch in batches:
        t = time.perf_counter()
        write(batch)
        per_batch.append((time.perf_counter() - t) * 1000)
    total = (time.perf_counter() - start) * 1000
    return {
        "case": label,
        "total_ms": round(total),
        "batch_p50_ms": round(statistics.median(per_batch), 1),
        "rows_per_s": round(sum(len(b) for b in batches) / total * 1000),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    load = os.getloadavg()
    _admin(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    _admin(f"CREATE DATABASE {DATABASE}")
    url = _url(DATABASE)
    report: dict[str, object] = {"rows": args.rows, "runs": args.runs, "loadavg_before": load}
    try:
        migrate.upgrade(url, "0005")
        t = time.perf_counter()
        with psycopg.connect(url) as conn:
            generate(conn, args.rows)
            conn.execute("ANALYZE usage_records")
            conn.commit()
        report["load_s"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        migrate.upgrade(url)  # 0006: the rollup, its trigger and the backfill
        report["migration_0006_s"] = round(time.perf_counter() - t, 1)
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("ANALYZE usage_hourly"))
            sizes = conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM usage_hourly), pg_total_relation_size('usage_hourly'),"
                    " pg_total_relation_size('usage_records')"
                )
            ).one()
        report["rollup_rows"], report["rollup_bytes"], report["ledger_bytes"] = (int(v) for v in sizes)
        store, tenancy, limits = SqlUsageStore(engine), SqlTenancyStore(engine), SqlLimitsStore(engine)
        busiest = "org-00"
        now = END - timedelta(minutes=1)
        cases: dict[str, Callable[[], object]] = {
            "month by day by org": lambda: overview(
                store, tenancy, period="month", bucket="day", group_by="org", now=now
            ),
            "day by hour by model": lambda: overview(
                store, tenancy, period="day", bucket="hour", group_by="model", now=now
            ),
            "week by hour by backend": lambda: overview(
                store, tenancy, period="week", group_by="backend", now=now
            ),
            "quarter by day, all": lambda: overview(store, tenancy, period="quarter", bucket="day", now=now),
            "quarter by month by org": lambda: overview(
                store, tenancy, period="quarter", bucket="month", group_by="org", now=now
            ),
            "month by day by model, one org": lambda: overview(
                store, tenancy, period="month", group_by="model", org_name=busiest, now=now
            ),
            "week by hour by org": lambda: overview(
                store, tenancy, period="week", bucket="hour", group_by="org", now=now
            ),
            "peak hour of the month": lambda: store.peak_hour(END - timedelta(days=30), END),
            "peak hour of the month, one org": lambda: store.peak_hour(
                END - timedelta(days=30), END, "oid-00"
            ),
            "each org's month against limits": lambda: orgs_usage(store, tenancy, limits, "2026-11", now=now),
        }
        results = []
        for name, fn in cases.items():
            p50, p99 = timed(fn, args.runs)
            results.append({"query": name, "p50_ms": round(p50, 1), "p99_ms": round(p99, 1)})
            print(f"{name:34} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms", flush=True)
        raw = text(
            "SELECT date_trunc('day', created_at AT TIME ZONE 'UTC'), org_id, count(*), sum(prompt_tokens),"
            " sum(completion_tokens), sum(cost_micro_krw),"
            " percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY latency_ms)"
            " FROM usage_records WHERE created_at >= :start AND created_at < :end GROUP BY 1, 2"
        )

        def from_rows() -> object:
            with engine.connect() as conn:
                return conn.execute(raw, {"start": END - timedelta(days=30), "end": END}).all()

        p50, p99 = timed(from_rows, 3)
        results.append(
            {
                "query": "month by day by org FROM THE LEDGER ROWS (no rollup)",
                "p50_ms": round(p50, 1),
                "p99_ms": round(p99, 1),
            }
        )
        print(
            f"{'month by day by org, ledger rows':34} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms (3 runs)",
            flush=True,
        )
        report["queries"] = results
        costs = []
        costs.append(
            insert_cost(
                store,
                "write_batch (one unnest statement), trigger",
                [records(f"t{i}", 500) for i in range(20)],
                store.write_batch,
            )
        )
        old = store._insert

        def executemany(batch: list[UsageRecord]) -> None:

            with engine.begin() as conn:
                conn.execute(old, [_values(r) for r in batch])

        costs.append(
            insert_cost(
                store,
                "executemany (one INSERT per row), trigger",
                [records(f"e{i}", 500) for i in range(20)],
                executemany,
            )
        )
        with engine.begin() as conn:
            for statement in rollup_triggers.drop_v1("postgresql"):
                conn.execute(text(statement))
        costs.append(
            insert_cost(
                store,
                "write_batch (one unnest statement), no trigger",
                [records(f"n{i}", 500) for i in range(20)],
                store.write_batch,
            )
        )
        costs.append(
            insert_cost(
                store,
                "executemany (one INSERT per row), no trigger",
                [records(f"m{i}", 500) for i in range(20)],
                executemany,
            )
        )
        for cost in costs:
            print(
                f"{cost['case']:48} {cost['total_ms']:6} ms / 10,000 rows,"
                f" {cost['batch_p50_ms']} ms per batch of 500",
                flush=True,
            )
        report["insert_cost"] = costs
        engine.dispose()
    finally:
        _admin(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    report["loadavg_after"] = os.getloadavg()
    print(json.dumps(report, indent=1, default=str))
    if args.out is not None:
        args.out.write_text(json.dumps(report, indent=1, default=str) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
