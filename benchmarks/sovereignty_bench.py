"""What sovereignty costs a request: the personal-data policy and residency, side by side in one run.

    .venv/bin/python benchmarks/sovereignty_bench.py [--requests 400] [--rounds 5] [--concurrency 1,8]

One real `onshore serve` (SQLite, pinned to CPU 1) in front of a small echo engine (in this process,
CPU 0, with the load generator): it answers with the first 600 characters of the last message, so a
redacted prompt comes back with its placeholders and restore has real work, streamed 16 characters an
event (about 40 events). Every request carries a ~4 KB Korean prompt from the PII benchmark's mix
(15 % of sentences hold an identifier, like pii_bench.py).

Variants, one organisation each, measured in interleaved rounds so drift hits them alike:
  off               no policy; the model is served in KR only (residency's fast path)
  residency-mixed   no policy; the model also has a JP backend, so residency filters the candidates
  detect            counts the types found
  redact            numbered placeholders before the engine sees the text
  redact+restore    and the originals put back into the (streamed) answer

Reported per variant: gateway CPU ms per request (from /proc, utime+stime of the gateway process over
its requests) and client latency p50/p99, and each one's difference from `off`. Streaming and
non-streaming are both run; restore matters on the streamed answer.
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
import threading
import time
import urllib.request
from pathlib import Path

import aiohttp
import orjson
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pii_bench import make_prompts

ROOT = Path(__file__).resolve().parents[1]
ONSHORE = [sys.executable, "-m", "onshore"]
VARIANTS = {
    "off": ("m-kr", None),
    "residency-mixed": ("m-mixed", None),
    "detect": ("m-kr", {"pii": "detect"}),
    "redact": ("m-kr", {"pii": "redact"}),
    "redact+restore": ("m-kr", {"pii": "redact", "restore": True}),
}
_TICK = os.sysconf("SC_CLK_TCK")


class EchoEngine:
    """An OpenAI-compatible engine in a thread that echoes (part of) the last message back."""

    def __init__(self) -> None:
        self.port = _free_port()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()
        self._ready.wait(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", lambda _: web.json_response({"object": "list", "data": []}))
        runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        text = body["messages"][-1]["content"][:600]
        usage = {"prompt_tokens": 1000, "completion_tokens": 150, "total_tokens": 1150}
        if not body.get("stream"):
            reply = {
                "id": "x",
                "object": "chat.completion",
                "model": body["model"],
                "usage": usage,
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                ],
            }
            return web.Response(body=orjson.dumps(reply), content_type="application/json")
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        events = []
        for i in range(0, len(text), 16):
            chunk = {
                "id": "x",
                "object": "chat.completion.chunk",
                "model": body["model"],
                "choices": [{"index": 0, "delta": {"content": text[i : i + 16]}, "finish_reason": None}],
            }
            events.append(b"data: " + orjson.dumps(chunk) + b"\n\n")
        end = {
            "id": "x",
            "object": "chat.completion.chunk",
            "model": body["model"],
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            "usage": usage,
        }
        events.append(b"data: " + orjson.dumps(end) + b"\n\ndata: [DONE]\n\n")
        await response.write(b"".join(events))
        await response.write_eof()
        return response


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _run(*args: str, env: dict[str, str], config: Path) -> str:
    command = [*ONSHORE, *args, "--config", str(config)]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"onshore {' '.join(args)} failed: {out.stderr[-800:]}")
    return out.stdout


def _setup(work: Path, engine: EchoEngine) -> tuple[subprocess.Popen[bytes], int, dict[str, str], str]:
    port = _free_port()
    url = f"http://127.0.0.1:{engine.port}/v1"
    config = work / "onshore.yaml"
    config.write_text(
        f"data_dir: {work / 'data'}\nserver: {{port: {port}}}\nlogging: {{level: WARNING}}\n"
        "backends:\n"
        f"  - {{name: kr, url: '{url}', jurisdiction: KR, models: [{{name: m-kr}}, {{name: m-mixed}}]}}\n"
        f"  - {{name: jp, url: '{url}', jurisdiction: JP, models: [{{name: m-mixed}}]}}\n"
    )
    admin = "bench-admin-" + os.urandom(16).hex()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONSHORE_")}
    env["ONSHORE_ADMIN_TOKEN"] = admin
    keys = {}
    for name, (_, policy) in VARIANTS.items():
        org = name.replace("+", "-")
        _run("orgs", "create", org, env=env, config=config)
        keys[name] = json.loads(_run("keys", "create", "--org", org, "--json", env=env, config=config))["key"]
        if policy:
            flags = ["--pii", str(policy["pii"])] + (["--restore"] if policy.get("restore") else [])
            _run("policy", "set", "--org", org, *flags, env=env, config=config)
    proc = subprocess.Popen(["taskset", "-c", "1", *ONSHORE, "serve", "--config", str(config)], env=env)
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    env["BENCH_KEYS"] = json.dumps(keys)
    return proc, port, env, admin


async def _load(
    port: int, key: str, model: str, prompts: list[str], stream: bool, concurrency: int
) -> list[float]:
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    bodies = [
        orjson.dumps({"model": model, "stream": stream, "messages": [{"role": "user", "content": p}]})
        for p in prompts
    ]
    latencies: list[float] = []
    queue = list(range(len(bodies)))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def worker() -> None:
            while queue:
                body = bodies[queue.pop()]
                start = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        raise SystemExit(f"HTTP {response.status}")
                latencies.append((time.perf_counter() - start) * 1000)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=400, help="per variant, mode and concurrency, per round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--concurrency", default="1,8")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "sovereignty.md")
    a = p.parse_args()
    os.sched_setaffinity(0, {0})
    prompts = make_prompts(4096, 4096 * 200, seed=7)
    engine = EchoEngine()
    with tempfile.TemporaryDirectory(prefix="onshore-sov-") as tmp:
        proc, port, env, _ = _setup(Path(tmp), engine)
        keys = json.loads(env["BENCH_KEYS"])
        try:
            results: dict[tuple[str, bool, int], dict[str, list[float]]] = {}
            for stream in (False, True):
                for c in (int(x) for x in a.concurrency.split(",")):
                    for name, (model, _) in VARIANTS.items():  # warm-up
                        asyncio.run(_load(port, keys[name], model, prompts[:50], stream, c))
                    for _ in range(a.rounds):
                        for name, (model, _) in VARIANTS.items():
                            cpu0 = _cpu_seconds(proc.pid)
                            lat = asyncio.run(
                                _load(port, keys[name], model, (prompts * 10)[: a.requests], stream, c)
                            )
                            cpu = (_cpu_seconds(proc.pid) - cpu0) / a.requests * 1000
                            cell = results.setdefault((name, stream, c), {"cpu": [], "lat": []})
                            cell["cpu"].append(cpu)
                            cell["lat"].extend(lat)
        finally:
            proc.terminate()
            proc.wait(30)
    table = _table(results)
    print(table)
    a.out.parent.mkdir(exist_ok=True)
    a.out.write_text(
        "# Sovereignty overhead (benchmarks/sovereignty_bench.py)\n\n"
        f"`{' '.join(sys.argv)}` — {time.strftime('%Y-%m-%d %H:%M')} UTC, gateway pinned to CPU 1, "
        "load and echo engine on CPU 0; ~4 KB Korean prompts, 15 % of sentences with an identifier.\n\n"
        + table
    )
    return 0


def _table(results: dict[tuple[str, bool, int], dict[str, list[float]]]) -> str:
    out = [
        "| mode | c | variant | CPU ms/req (median of rounds) | Δ CPU vs off | p50 ms | Δ p50 | p99 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (name, stream, c), cell in results.items():
        base = results[("off", stream, c)]
        cpu, base_cpu = statistics.median(cell["cpu"]), statistics.median(base["cpu"])
        p50, base_p50 = statistics.median(cell["lat"]), statistics.median(base["lat"])
        p99 = sorted(cell["lat"])[int(len(cell["lat"]) * 0.99) - 1]
        out.append(
            f"| {'stream' if stream else 'complete'} | {c} | {name} | {cpu:.3f} | {cpu - base_cpu:+.3f} | "
            f"{p50:.2f} | {p50 - base_p50:+.3f} | {p99:.2f} |"
        )
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
