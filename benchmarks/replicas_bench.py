"""Replicas behind HAProxy: throughput with 1, 2 and 3 replicas, and how long a drain takes under load.

    .venv/bin/python -m benchmarks.replicas_bench [--requests 20000] [--concurrency 64] [--rounds 3]
        [--drain-delay-s 5] [--out benchmarks/results/replicas.md]

Real `onshore serve` replicas (one worker each, `server.drain_delay_s` as given) on one PostgreSQL
database made for the run and one Redis started for it, in front of the fast fake engine
(`../shared/bench/upstream.py`, 12 tokens), behind Debian's HAProxy configured as in
docs/upgrades.md (tests/support/haproxy.py). The load is `../shared/bench/load.py` (closed loop,
keep-alive connections to HAProxy, which balances each request), run in this process.

1. Throughput: for 1, 2 and 3 replicas in the pool, ``--rounds`` runs of ``--requests`` plain chat
   completions at ``--concurrency``; the median req/s and p50/p99 latency.
2. Drain under load: with all three in the pool and the same load running, SIGTERM to one replica;
   the seconds from the signal to its exit (``drain_delay_s`` plus the requests under way plus the
   ledger's flush), and the errors the load saw (expected: none).

All replicas, HAProxy, the engine and the load share this machine's cores: more replicas add
processes, not cores, so throughput grows only as far as idle cores allow. Measure on a quiet
machine and say how many cores it has.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from tests.support.haproxy import HAProxy
from tests.support.redis_server import RedisServer
from tests.support.services import (
    SHARED,
    Gateway,
    make_gateway,
    postgres_database,
    remote_backend,
    start_upstream,
    stop,
    wait_http,
)

sys.path.insert(0, str(SHARED / "bench"))
import load as load_generator  # ../shared/bench/load.py

ROOT = Path(__file__).resolve().parents[1]
SECRET = "replicas-bench-secret-0123456789"


def _replicas(
    tmp: Path, upstream_url: str, database_url: str, redis_url: str, delay_s: float
) -> list[Gateway]:
    replicas = []
    for index in range(3):
        directory = tmp / f"r{index}"
        directory.mkdir()
        gw = make_gateway(
            directory,
            [remote_backend("pool", upstream_url, "bench-model")],
            database_url=database_url,
            redis_url=redis_url,
            extra={
                "database": {"auto_migrate": False},
                "server": {"drain_delay_s": delay_s, "drain_s": 30.0},
                "logging": {"level": "WARNING"},
            },
        )
        gw.env["ONSHORE_SECRET"] = SECRET
        replicas.append(gw)
    return replicas


def _load(url: str, key: str, requests: int, concurrency: int, max_seconds: float) -> dict[str, Any]:
    args = load_generator.parse_args(
        [
            "--url",
            url,
            "--key",
            key,
            "-n",
            str(requests),
            "-c",
            str(concurrency),
            "--max-seconds",
            str(max_seconds),
        ]
    )
    result: dict[str, Any] = asyncio.run(load_generator.run_load(args))
    return result


def _throughput(
    replicas: list[Gateway], key: str, a: argparse.Namespace
) -> list[tuple[int, list[dict[str, Any]]]]:
    results = []
    for count in (1, 2, 3):
        lb = HAProxy({f"r{i}": gw.port for i, gw in enumerate(replicas[:count])}).start()
        try:
            lb.wait_all_up()
            runs = [
                _load(lb.url + "/v1", key, a.requests, a.concurrency, a.max_seconds) for _ in range(a.rounds)
            ]
        finally:
            lb.stop()
        for run in runs:
            print(f"{count} replica(s): {load_generator.human(run)}")
        results.append((count, runs))
    return results


def _drain_under_load(replicas: list[Gateway], key: str, a: argparse.Namespace) -> dict[str, Any]:
    lb = HAProxy({f"r{i}": gw.port for i, gw in enumerate(replicas)}).start()
    try:
        lb.wait_all_up()
        outcome: dict[str, Any] = {}
        seconds = a.drain_delay_s + 10.0
        loader = threading.Thread(
            target=lambda: outcome.update(_load(lb.url + "/v1", key, 10**9, a.concurrency, seconds)),
            daemon=True,
        )
        loader.start()
        time.sleep(2.0)
        victim = replicas[0]
        assert victim.proc is not None
        signalled = time.monotonic()
        victim.proc.send_signal(signal.SIGTERM)
        code = victim.proc.wait(a.drain_delay_s + 60)
        took = time.monotonic() - signalled
        loader.join(seconds + 30)
    finally:
        lb.stop()
    print(f"SIGTERM to exit under load: {took:.2f} s (exit {code}); load: {load_generator.human(outcome)}")
    return {"seconds": took, "exit": code, "load": outcome}


def _table(
    results: list[tuple[int, list[dict[str, Any]]]], drain: dict[str, Any], a: argparse.Namespace
) -> str:
    lines = [
        f"| replicas | req/s (median of {a.rounds}) | min-max | p50 ms | p99 ms | errors |",
        "|---|---|---|---|---|---|",
    ]
    for count, runs in results:
        rps = [r["rps"] or 0.0 for r in runs]
        p50 = statistics.median(r["latency_ms"]["p50"] or 0.0 for r in runs)
        p99 = statistics.median(r["latency_ms"]["p99"] or 0.0 for r in runs)
        errors = sum(r["errors"] for r in runs)
        spread = f"{min(rps):,.0f}-{max(rps):,.0f}"
        lines.append(
            f"| {count} | {statistics.median(rps):,.0f} | {spread} | {p50:.1f} | {p99:.1f} | {errors} |"
        )
    load = drain["load"]
    lines += [
        "",
        f"SIGTERM to one of three replicas under the same load (c={a.concurrency}): exited "
        f"{drain['exit']} after {drain['seconds']:.2f} s (`server.drain_delay_s` = {a.drain_delay_s}); "
        f"the load through HAProxy meanwhile: {load.get('ok', 0)} answered, {load.get('errors', 0)} errors "
        f"{load.get('error_kinds') or ''}.",
    ]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=20000, help="per run")
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--max-seconds", type=float, default=60.0, help="bound on one run")
    p.add_argument("--drain-delay-s", type=float, default=5.0, help="server.drain_delay_s of the replicas")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "replicas.md")
    a = p.parse_args()
    load_before = os.getloadavg()[0]
    upstream = start_upstream(tokens=12)
    redis = RedisServer().start()
    try:
        with (
            postgres_database() as database_url,
            tempfile.TemporaryDirectory(prefix="onshore-replicas-") as tmp,
        ):
            replicas = _replicas(Path(tmp), upstream.url, database_url, redis.url, a.drain_delay_s)
            replicas[0].cli("db", "upgrade")
            _, key = replicas[0].create_key("bench")
            try:
                for gw in replicas:
                    gw.start(wait=False)
                for gw in replicas:
                    wait_http(gw.base_url + "/readyz", timeout=120, proc=gw.proc)
                results = _throughput(replicas, key, a)
                drain = _drain_under_load(replicas, key, a)
            finally:
                for gw in replicas:
                    gw.stop()
    finally:
        redis.stop()
        stop(upstream.proc)
    table = _table(results, drain, a)
    print(table)
    a.out.parent.mkdir(exist_ok=True)
    a.out.write_text(
        "# Replicas behind HAProxy (benchmarks/replicas_bench.py)\n\n"
        f"`{' '.join(sys.argv)}` - {time.strftime('%Y-%m-%d %H:%M')} UTC, {os.cpu_count()} cores, "
        f"load average before: {load_before:.2f}. Replicas, HAProxy, the engine and the load generator "
        "share the machine.\n\n" + table + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
