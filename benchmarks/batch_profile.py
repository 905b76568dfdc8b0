"""Where a batch request's gateway CPU goes, in measures a busy machine does not move much.

Like ``batch_bench.py`` (a real `onshore serve` on SQLite in front of the shared fast engine), but it
runs ``--repeat`` batches of ``--n`` chat requests and prints, for each, the gateway's CPU per
request split into the event loop's thread and the others (ledger writer, database threads), from
``/proc``. The last batch can be profiled:

* ``--callgrind OUT``: the gateway runs under ``valgrind --tool=callgrind`` with instrumentation
  switched on for the last batch only; ``OUT.<pid>.1`` holds it, and its ``totals`` divided by
  ``--n`` is the instructions per request, the same however loaded the machine is (slow: ~3 min
  for ``--n 1000`` on a shared 2-core machine; keep ``--n`` small). Under callgrind the gateway is
  ~50x slower, so what it does per second (key and limits syncs, lease renewals, the client's
  polling) would weigh ~50x more per request: those intervals are made long (``--quiet``, on with
  ``--callgrind``), so the count is the requests' own.
* ``--cprofile OUT``: cProfile (``profiled_serve.py``), for call proportions: ``OUT`` for the event
  loop, ``OUT.threads`` for the rest (thread CPU time).

    .venv/bin/python -m benchmarks.batch_profile --n 2000 --repeat 3
    .venv/bin/python -m benchmarks.batch_profile --n 1000 --repeat 1 --callgrind /tmp/cg
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import openai
from benchmarks.batch_bench import _backend, _interactive, _jsonl
from tests.support import services
from tests.support.services import make_gateway, start_upstream, stop, wait_http

_TICK = os.sysconf("SC_CLK_TCK")
_WRAPPER = str(Path(__file__).with_name("profiled_serve.py"))


def _threads(pid: int) -> dict[int, float]:
    """CPU seconds of each thread of ``pid``."""
    seconds: dict[int, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended
        seconds[int(task.name)] = (int(fields[11]) + int(fields[12])) / _TICK
    return seconds


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _control(*args: str) -> None:
    subprocess.run(["callgrind_control", *args], check=True, capture_output=True)


def _run_batch(client: openai.OpenAI, n: int, poll_s: float) -> openai.types.Batch:
    uploaded = client.files.create(file=("in.jsonl", io.BytesIO(_jsonl(n))), purpose="batch")
    batch = client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    while batch.status not in ("completed", "failed", "expired", "cancelled"):
        time.sleep(poll_s)
        batch = client.batches.retrieve(batch.id)
    return batch


def _report(run: int, done: openai.types.Batch, n: int, wall: float, cpu: float, loop: float) -> None:
    counts = done.request_counts
    print(
        f"batch {run}: {done.status}, {counts.completed if counts else 0}/{n}; wall {wall:.1f} s; "
        f"gateway CPU {cpu / n * 1000:.3f} ms/request: event loop {loop / n * 1000:.3f}, "
        f"other threads {(cpu - loop) / n * 1000:.3f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--queue", type=int, default=0, help="max_in_flight of the model (the fair queue)")
    parser.add_argument("--cprofile", default="", help="profile the last batch with cProfile into this file")
    parser.add_argument("--callgrind", default="", help="count the last batch's instructions (OUT.<pid>.1)")
    parser.add_argument("--quiet", action="store_true", help="long sync and poll intervals (see above)")
    args = parser.parse_args()
    quiet = args.quiet or bool(args.callgrind)
    poll_s = 5.0 if quiet else 0.25
    serve = [services.PYTHON, _WRAPPER]
    if args.callgrind:
        serve = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={args.callgrind}.%p",
            *serve,
        ]
    upstream = start_upstream(tokens=12)
    with tempfile.TemporaryDirectory() as tmp:
        gw = make_gateway(
            Path(tmp),
            [_backend(upstream.url, args.queue)],
            extra={
                "batches": {"concurrency": args.concurrency, "poll_interval_s": 5.0 if quiet else 0.2},
                "logging": {"level": "WARNING"},
                **({"auth": {"sync_interval_s": 60.0}, "limits": {"sync_interval_s": 60.0}} if quiet else {}),
            },
        )
        # Made before the gateway starts, so it loads them at once (its key sync may be slow).
        keys = {org: gw.create_key(org)[1] for org in ("batch-owner", "interactive")}
        if args.cprofile:
            gw.env["BATCH_PROFILE_OUT"] = args.cprofile
        plain, services.ONSHORE = services.ONSHORE, serve  # only the server runs wrapped, not the CLI
        try:
            gw.start(wait=False)
        finally:
            services.ONSHORE = plain
        try:
            assert gw.proc is not None
            pid = gw.proc.pid
            wait_http(gw.base_url + "/healthz", timeout=600, proc=gw.proc)
            owner = openai.OpenAI(base_url=gw.v1, api_key=keys["batch-owner"], max_retries=0, timeout=600)
            other = openai.OpenAI(base_url=gw.v1, api_key=keys["interactive"], max_retries=0, timeout=600)
            _interactive(other, 20, 2)  # warm-up
            _run_batch(owner, 100, poll_s)
            for run in range(args.repeat):
                last = run == args.repeat - 1
                if last and args.cprofile:
                    os.kill(pid, signal.SIGUSR1)
                if last and args.callgrind:
                    _control("-i", "on", str(pid))
                before, threads, started = _cpu(pid), _threads(pid), time.perf_counter()
                done = _run_batch(owner, args.n, poll_s)
                wall, cpu = time.perf_counter() - started, _cpu(pid) - before
                if last and args.callgrind:
                    _control("-i", "off", str(pid))
                    _control("-d", str(pid))
                if last and args.cprofile:
                    os.kill(pid, signal.SIGUSR2)
                after = _threads(pid)
                loop = after.get(pid, 0.0) - threads.get(pid, 0.0)
                _report(run, done, args.n, wall, cpu, loop)
            time.sleep(1.0)  # the profile files are written
        finally:
            gw.stop()
            stop(upstream.proc)


if __name__ == "__main__":
    main()
