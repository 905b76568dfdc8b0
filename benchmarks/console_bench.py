"""The console's pages on a ledger of a million rows: time to the last byte, as a browser asks.

    .venv/bin/python benchmarks/console_bench.py [--rows 1000000] [--runs 20] [--out FILE.md]

Loads ``--rows`` ledger rows over the 90 days before now into a PostgreSQL database of its own
(``onshore_console_bench``, dropped at the end) with benchmarks/dashboard_bench.py's generator (20
organisations, 6 models, 4 backends, a daily cycle in Korean time, 3 % errors), migrates it (the
hourly rollup's backfill included), starts a real ``onshore serve`` on it, signs in to the console
and times each page: ``--runs`` GETs after one warm-up, p50 and p99 of the whole HTTP exchange
(rendering included). The goal of issue 10 is under 200 ms.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import benchmarks.dashboard_bench as ledger
from tests.support.services import make_gateway

from onshore.store.sql import migrate

DATABASE = "onshore_console_bench"


def timed(client: httpx.Client, path: str, runs: int) -> tuple[float, float, int]:
    client.get(path)  # warm-up: query plans and templates, as a page seen before
    samples = []
    size = 0
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{path}: {response.status_code} {response.text[:300]}")
        size = len(response.content)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(0.99 * len(samples)))], size


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    loadavg = os.getloadavg()
    ledger._admin(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    ledger._admin(f"CREATE DATABASE {DATABASE}")
    url = ledger._url(DATABASE)
    # The generated ledger ends at this hour, so "the last day" of the overview has traffic.
    ledger.END = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    gateway = None
    try:
        migrate.upgrade(url, "0005")
        started = time.perf_counter()
        with psycopg.connect(url) as conn:
            ledger.generate(conn, args.rows)
            conn.execute("ANALYZE usage_records")
            conn.commit()
        migrate.upgrade(url)
        with psycopg.connect(url) as conn:
            conn.execute("ANALYZE")
        load_s = time.perf_counter() - started
        sqlalchemy_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
        gateway = make_gateway(Path(tempfile.mkdtemp()), [], database_url=sqlalchemy_url)
        gateway.start()
        month = f"{ledger.END - timedelta(days=1):%Y-%m}"
        pages = [
            "/dashboard/overview",  # last 24 h by hour by organisation
            "/dashboard/overview?period=week&bucket=hour&group=model",
            "/dashboard/overview?period=week&bucket=hour&group=org",  # the largest: 20 orgs x 168 hours
            "/dashboard/overview?period=month&bucket=day&group=org",
            "/dashboard/overview?period=quarter&bucket=day&group=backend",
            "/dashboard/overview?period=month&bucket=day&group=model&org=org-00",
            "/dashboard/orgs",
            "/dashboard/orgs/org-00",
            f"/dashboard/residency?org=org-00&month={month}",
            "/dashboard/audit",
            "/dashboard/invoices",
            "/dashboard/backends",
        ]
        rows = []
        with httpx.Client(base_url=gateway.base_url, timeout=60) as client:
            signed_in = client.post("/dashboard/login", data={"token": gateway.admin_token})
            assert signed_in.status_code == 303, signed_in.text
            for path in pages:
                p50, p99, size = timed(client, path, args.runs)
                rows.append((path, p50, p99, size))
                print(f"{path:70s} p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  {size / 1024:6.1f} KiB", flush=True)
        lines = [
            "# Console pages on a ledger of a million rows (PostgreSQL)",
            "",
            f"`.venv/bin/python benchmarks/console_bench.py --rows {args.rows} --runs {args.runs}`: "
            f"{args.rows:,} ledger rows over 90 days, loaded and migrated in {load_s:.0f} s; a real "
            "`onshore serve` (one worker) on the same 2-core machine as PostgreSQL; time to the last byte "
            f"of each page over HTTP, {args.runs} runs after a warm-up. Load average before: "
            f"{loadavg[0]:.2f}.",
            "",
            "| page | p50 ms | p99 ms | size KiB |",
            "|---|---:|---:|---:|",
            *[f"| `{path}` | {p50:.1f} | {p99:.1f} | {size / 1024:.1f} |" for path, p50, p99, size in rows],
            "",
        ]
        text = "\n".join(lines)
        print(text)
        if args.out is not None:
            args.out.write_text(re.sub(r"\n{3,}", "\n\n", text))
    finally:
        if gateway is not None:
            gateway.stop()
        ledger._admin(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


if __name__ == "__main__":
    main()
