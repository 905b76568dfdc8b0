"""How long ``onshore audit verify`` takes, and how much memory it holds, on a long chain.

    .venv/bin/python benchmarks/audit_verify.py --entries 100000 [--database-url URL]

Fills a fresh SQLite file (or the given, empty, migrated database) with chained entries appended
in batches the size the buffered sink writes (500), then runs the real command as a subprocess
(``onshore audit verify --json``, so its start-up is counted) and the walk in process. Prints the
command line, the fill rate, the wall time of both, and the subprocess's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from onshore.admin.audit_chain import verify_trail
from onshore.domain.audit import AuditEntry
from onshore.store.sql import SqlAuditLog, make_engine, migrate

T0 = datetime(2026, 1, 1, tzinfo=UTC)
BATCH = 500


def fill(url: str, total: int) -> float:
    engine = make_engine(url)
    log = SqlAuditLog(engine)
    started = time.perf_counter()
    for start in range(0, total, BATCH):
        log.append_many(
            [
                AuditEntry.create(
                    actor="system",
                    action="request.redacted",
                    target_type="request",
                    target_id=f"req_{i}",
                    org_id=f"org_{i % 50}",
                    detail={"pii_counts": {"KR_RRN": 1, "PHONE": i % 3}, "model": "llama-3.1-8b"},
                    at=T0 + timedelta(milliseconds=i),
                )
                for i in range(start, min(start + BATCH, total))
            ]
        )
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    print("$", " ".join([Path(sys.executable).name, *sys.argv]))
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/onshore.db"
        migrate.upgrade(url)
        filled = fill(url, args.entries)
        print(f"appended {args.entries} entries in {filled:.1f} s ({args.entries / filled:,.0f}/s)")

        config = Path(tmp) / "onshore.yaml"
        config.write_text(f"data_dir: {tmp}/data\nbackends: []\ndatabase:\n  url: {url}\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("ONSHORE_")}
        onshore = Path(sys.executable).parent / "onshore"
        started = time.perf_counter()
        done = subprocess.run(
            [str(onshore), "audit", "verify", "--json", "--config", str(config)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        wall = time.perf_counter() - started
        rss_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        report = json.loads(done.stdout)
        print(
            f"onshore audit verify: exit {done.returncode}, intact={report['intact']}, "
            f"{report['entries']} entries in {wall:.2f} s wall (with start-up), peak RSS {rss_mib:.0f} MiB"
        )

        engine = make_engine(url)
        started = time.perf_counter()
        verdict = verify_trail(SqlAuditLog(engine), None)
        walk = time.perf_counter() - started
        engine.dispose()
        print(
            f"verify_trail in process: {verdict.entries} entries in {walk:.2f} s "
            f"({verdict.entries / walk:,.0f} entries/s)"
        )


if __name__ == "__main__":
    main()
