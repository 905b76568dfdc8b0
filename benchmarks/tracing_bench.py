"""What tracing costs a request: the gateway's CPU per request with tracing off and on, side by side.

    .venv/bin/python benchmarks/tracing_bench.py [--baseline-src /tmp/onshore-base] [--src PATH]
        [--requests 1000] [--rounds 5] [--concurrency 8]

Real `onshore serve` processes (SQLite, each pinned to CPU 1, all started before the first round) in
front of the scripted engine (tests/support/scripted_engine.py: a three-token answer, streamed or not)
and an OTLP/HTTP collector stand-in (tests/support/otlp_collector.py: it decodes nothing, it keeps
the bodies), both in this process on CPU 0 with the load generator.

Variants, measured in interleaved rounds so drift hits them alike:
  base       --baseline-src: the tree before tracing existed (e.g. a git worktree of the commit
             before it), to show that tracing off costs nothing
  off        this tree, tracing off (no endpoint: OpenTelemetry is never imported)
  on         this tree, every request traced and exported over OTLP/HTTP (protobuf) to the stand-in
  on-ratio0  this tree, tracing on with tracing.sample_ratio 0: spans made, none recorded or sent

CPU per request is utime+stime of the gateway process (/proc; all its threads, so the exporter's
background thread counts) over each window, read after a pause that lets the exporter send what the
window traced (OTEL_BSP_SCHEDULE_DELAY=100 ms). Reported: the median over rounds, and ratios to off.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.otlp_collector import OtlpCollector  # noqa: E402
from tests.support.scripted_engine import ScriptedEngine  # noqa: E402

_TICK = os.sysconf("SC_CLK_TCK")
_EXPORT_PAUSE_S = 0.4


@dataclass
class Variant:
    name: str
    src: Path
    tracing: dict[str, object] | None  # the `tracing:` section; None: tracing off
    proc: subprocess.Popen[bytes] | None = None
    port: int = 0
    key: str = ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _env(src: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ONSHORE_", "OTEL_"))}
    env["PYTHONPATH"] = str(src / "src")  # which tree is imported
    env["ONSHORE_ADMIN_TOKEN"] = "bench-admin-" + os.urandom(16).hex()
    env["OTEL_BSP_SCHEDULE_DELAY"] = "100"
    return env


def _cli(variant: Variant, config: Path, *args: str) -> str:
    command = [sys.executable, "-m", "onshore", *args, "--config", str(config)]
    out = subprocess.run(command, env=_env(variant.src), capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"[{variant.name}] onshore {' '.join(args)} failed: {out.stderr[-800:]}")
    return out.stdout


def _start(variant: Variant, work: Path, engine: ScriptedEngine) -> None:
    variant.port = _free_port()
    config = work / variant.name / "onshore.yaml"
    config.parent.mkdir(parents=True)
    lines = [
        f"data_dir: {config.parent / 'data'}",
        f"server: {{port: {variant.port}}}",
        "logging: {level: WARNING}",
        f"backends: [{{name: engine, url: '{engine.url}', models: [{{name: m}}]}}]",
    ]
    if variant.tracing is not None:
        lines.append(f"tracing: {json.dumps(variant.tracing)}")
    config.write_text("\n".join(lines) + "\n")
    _cli(variant, config, "orgs", "create", "bench")
    variant.key = json.loads(_cli(variant, config, "keys", "create", "--org", "bench", "--json"))["key"]
    command = ["taskset", "-c", "1", sys.executable, "-m", "onshore", "serve", "--config", str(config)]
    variant.proc = subprocess.Popen(command, env=_env(variant.src))
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{variant.port}/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    else:
        raise SystemExit(f"[{variant.name}] the gateway did not start")


async def _load(variant: Variant, requests: int, stream: bool, concurrency: int) -> None:
    url = f"http://127.0.0.1:{variant.port}/v1/chat/completions"
    headers = {"authorization": f"Bearer {variant.key}", "content-type": "application/json"}
    body = orjson.dumps({"model": "m", "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
    left = [requests]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def worker() -> None:
            while left[0] > 0:
                left[0] -= 1
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        raise SystemExit(f"[{variant.name}] HTTP {response.status}")

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--src", type=Path, default=ROOT, help="the tree with tracing (default: this one)")
    p.add_argument("--baseline-src", type=Path, default=None, help="a tree from before tracing")
    p.add_argument("--requests", type=int, default=1000, help="per variant, mode and round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "tracing.md")
    a = p.parse_args()
    load_before = os.getloadavg()[0]
    os.sched_setaffinity(0, {0})
    engine = ScriptedEngine().start()
    collector = OtlpCollector().start()
    variants = [
        *([Variant("base", a.baseline_src.resolve(), None)] if a.baseline_src else []),
        Variant("off", a.src.resolve(), None),
        Variant("on", a.src.resolve(), {"otlp_endpoint": collector.endpoint}),
        Variant("on-ratio0", a.src.resolve(), {"otlp_endpoint": collector.endpoint, "sample_ratio": 0.0}),
    ]
    cpu: dict[tuple[str, bool], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="onshore-tracing-") as tmp:
        try:
            for variant in variants:
                _start(variant, Path(tmp), engine)
            for stream in (False, True):
                for variant in variants:  # warm-up
                    asyncio.run(_load(variant, 200, stream, a.concurrency))
                time.sleep(_EXPORT_PAUSE_S)
                for _ in range(a.rounds):
                    for variant in variants:
                        assert variant.proc is not None
                        before = _cpu_seconds(variant.proc.pid)
                        asyncio.run(_load(variant, a.requests, stream, a.concurrency))
                        time.sleep(_EXPORT_PAUSE_S)  # its spans are sent inside its own window
                        used = _cpu_seconds(variant.proc.pid) - before
                        cpu.setdefault((variant.name, stream), []).append(used / a.requests * 1000)
        finally:
            for variant in variants:
                if variant.proc is not None:
                    variant.proc.terminate()
                    variant.proc.wait(30)
            spans = len(collector.spans())
            collector.stop()
            engine.stop()
    traced = 2 * (200 + a.rounds * a.requests)
    table = _table(cpu, [v.name for v in variants])
    note = f"spans received by the collector stand-in: {spans} (the `on` variant served {traced} requests)"
    print(table + "\n" + note)
    a.out.parent.mkdir(exist_ok=True)
    a.out.write_text(
        "# Tracing overhead (benchmarks/tracing_bench.py)\n\n"
        f"`{' '.join(sys.argv)}` — {time.strftime('%Y-%m-%d %H:%M')} UTC, load average before: "
        f"{load_before:.2f}; gateways pinned to CPU 1, load, engine and collector on CPU 0.\n\n"
        + table
        + "\n"
        + note
        + "\n"
    )
    return 0


def _table(cpu: dict[tuple[str, bool], list[float]], names: list[str]) -> str:
    out = [
        "| mode | variant | CPU ms/req (median of rounds) | min–max of rounds | vs off |",
        "|---|---|---|---|---|",
    ]
    for stream in (False, True):
        off = statistics.median(cpu[("off", stream)])
        for name in names:
            rounds = cpu[(name, stream)]
            median = statistics.median(rounds)
            out.append(
                f"| {'stream' if stream else 'complete'} | {name} | {median:.3f} | "
                f"{min(rounds):.3f}–{max(rounds):.3f} | {median / off:.3f}× ({median - off:+.3f} ms) |"
            )
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
