"""The Batch API under load: a batch of 10,000 chat requests against the fast fake engine.

Starts a real `onshore serve` (SQLite) in front of the shared fast engine (``/work/shared/bench/
upstream.py``), uploads a JSONL of ``--n`` chat requests, creates the batch and polls it to
``completed``, and reads the gateway process's CPU time (utime + stime) from just before the batch
is created to when it completed: everything it cost, the pipeline of every request, the commits of
the results and the output file included. With ``--interactive N``, another organisation sends N
chat completions (``--clients`` at a time) once alone and once while a batch runs, and their
latency percentiles are printed side by side. ``--engine-ms`` makes every answer take that long, as a
real engine's generation does, so a place a batch request holds stays taken.

    .venv/bin/python -m benchmarks.batch_bench --n 10000 --concurrency 32 --interactive 400 \
        --queue 16 --rounds 3
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import openai
import orjson
from tests.support.services import make_gateway, remote_backend, start_upstream, stop

_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _jsonl(n: int) -> bytes:
    return b"".join(
        orjson.dumps(
            {
                "custom_id": f"r-{i}",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {"model": "bench-model", "messages": [{"role": "user", "content": f"hello {i}"}]},
            }
        )
        + b"\n"
        for i in range(n)
    )


def _run_batch(client: openai.OpenAI, n: int) -> openai.types.Batch:
    uploaded = client.files.create(file=("in.jsonl", io.BytesIO(_jsonl(n))), purpose="batch")
    batch = client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    while batch.status not in ("completed", "failed", "expired", "cancelled"):
        time.sleep(0.25)
        batch = client.batches.retrieve(batch.id)
    return batch


def _interactive(client: openai.OpenAI, total: int, clients: int) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()
    per_client = total // clients

    def work() -> None:
        for _ in range(per_client):
            started = time.perf_counter()
            client.chat.completions.create(model="bench-model", messages=[{"role": "user", "content": "hi"}])
            with lock:
                latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=work) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def _percentiles(name: str, latencies: list[float]) -> None:
    cuts = statistics.quantiles(latencies, n=100)
    print(f"{name:28s} n={len(latencies)} p50 {cuts[49] * 1000:.1f} ms  p99 {cuts[98] * 1000:.1f} ms")


def _side_by_side(owner: openai.OpenAI, other: openai.OpenAI, args: argparse.Namespace) -> None:
    """Another organisation's requests alone, then beside a running batch, ``--rounds`` times in
    turn; the p99 of one round of 400 is its fourth-slowest answer, so the pooled figures decide."""
    alone: list[float] = []
    beside: list[float] = []
    for round_ in range(args.rounds):
        alone_now = _interactive(other, args.interactive, args.clients)
        runner = threading.Thread(target=_run_batch, args=(owner, args.n))
        runner.start()
        time.sleep(1.0)  # the batch is running
        beside_now = _interactive(other, args.interactive, args.clients)
        runner.join()
        _percentiles(f"round {round_ + 1}: alone", alone_now)
        _percentiles(f"round {round_ + 1}: beside a batch", beside_now)
        alone += alone_now
        beside += beside_now
    _percentiles("all rounds: alone", alone)
    _percentiles("all rounds: beside a batch", beside)
    a99, b99 = statistics.quantiles(alone, n=100)[98], statistics.quantiles(beside, n=100)[98]
    print(f"p99 beside a batch / alone: {b99 / a99:.2f} ({(b99 / a99 - 1) * 100:+.0f} %)")


def _backend(url: str, queue: int) -> dict[str, object]:
    backend = remote_backend("pool-a", url, "bench-model")
    if queue:  # the model at capacity queues: batch requests wait in the batch tier behind others
        backend["models"] = [{"name": "bench-model", "max_in_flight": queue}]
    return backend


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--interactive", type=int, default=0, help="interactive requests of another org")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=1, help="alone / beside rounds, in turn")
    parser.add_argument(
        "--no-yield", action="store_true", help="batches never step aside: the fair queue alone arbitrates"
    )
    parser.add_argument(
        "--engine-ms", type=float, default=0.0, help="the engine's time per answer (its --ttft-ms)"
    )
    parser.add_argument(
        "--queue", type=int, default=0, help="max_in_flight of the model: the fair queue, batch tier last"
    )
    args = parser.parse_args()
    upstream = start_upstream(tokens=12, extra=["--ttft-ms", str(args.engine_ms)])
    with tempfile.TemporaryDirectory() as tmp:
        gw = make_gateway(
            Path(tmp),
            [_backend(upstream.url, args.queue)],
            extra={
                "batches": {
                    "concurrency": args.concurrency,
                    "poll_interval_s": 0.2,
                    **({"yield_concurrency": args.concurrency} if args.no_yield else {}),
                },
                "logging": {"level": "WARNING"},
            },
        )
        gw.start()
        try:
            assert gw.proc is not None
            owner = openai.OpenAI(base_url=gw.v1, api_key=gw.create_key("batch-owner")[1], max_retries=0)
            other = openai.OpenAI(base_url=gw.v1, api_key=gw.create_key("interactive")[1], max_retries=0)
            _interactive(other, 100, 2)  # warm-up
            _run_batch(owner, 100)
            before, started = _cpu_s(gw.proc.pid), time.perf_counter()
            done = _run_batch(owner, args.n)
            wall, cpu = time.perf_counter() - started, _cpu_s(gw.proc.pid) - before
            counts = done.request_counts
            print(
                f"batch of {args.n}: {done.status}, completed {counts.completed}, failed {counts.failed}; "
                f"wall {wall:.1f} s ({args.n / wall:.0f} req/s); "
                f"gateway CPU {cpu:.2f} s = {cpu / args.n * 1000:.3f} ms/request (upload, polling included)"
            )
            before = _cpu_s(gw.proc.pid)
            _interactive(other, 2000, args.clients)
            same = (_cpu_s(gw.proc.pid) - before) / 2000 * 1000
            print(f"the same chat request sent interactively over HTTP: {same:.3f} ms gateway CPU/request")
            if args.interactive:
                _side_by_side(owner, other, args)
        finally:
            gw.stop()
            stop(upstream.proc)


if __name__ == "__main__":
    main()
