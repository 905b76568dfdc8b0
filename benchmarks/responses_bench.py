"""Gateway CPU per request: a chat completion against the same request through the Responses API.

Starts a real `onshore serve` (SQLite) in front of the scripted engine, sends the same conversation
``--n`` times one after the other as chat, as responses with store=false and with store=true (and
streamed), and reads the gateway process's CPU time (utime + stime) around each run.

    .venv/bin/python -m benchmarks.responses_bench --n 300
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import openai
from tests.support.scripted_engine import ScriptedEngine
from tests.support.services import make_gateway, remote_backend

_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    n = parser.parse_args().n
    engine = ScriptedEngine().start()
    with tempfile.TemporaryDirectory() as tmp:
        gw = make_gateway(Path(tmp), [remote_backend("engine", engine.url, "plain")])
        gw.start()
        try:
            client = openai.OpenAI(base_url=gw.v1, api_key=gw.create_key("bench")[1], max_retries=0)
            messages = [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "hello " * 50},
            ]
            cases: dict[str, Callable[[], object]] = {
                "chat": lambda: client.chat.completions.create(model="plain", messages=messages),  # type: ignore[arg-type]
                "responses store=false": lambda: client.responses.create(
                    model="plain", instructions="Be brief.", input="hello " * 50, store=False
                ),
                "responses store=true": lambda: client.responses.create(
                    model="plain", instructions="Be brief.", input="hello " * 50
                ),
                "chat stream": lambda: list(
                    client.chat.completions.create(model="plain", messages=messages, stream=True)  # type: ignore[arg-type]
                ),
                "responses stream store=false": lambda: list(
                    client.responses.create(
                        model="plain", instructions="Be brief.", input="hello " * 50, store=False, stream=True
                    )
                ),
            }
            assert gw.proc is not None
            for name, call in cases.items():
                for _ in range(20):  # warm-up
                    call()
                before = _cpu_s(gw.proc.pid)
                for _ in range(n):
                    call()
                print(f"{name:32s} {(_cpu_s(gw.proc.pid) - before) / n * 1000:.3f} ms gateway CPU/request")
        finally:
            gw.stop()
            engine.stop()


if __name__ == "__main__":
    main()
