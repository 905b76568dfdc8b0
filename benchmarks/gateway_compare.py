"""One command: direct upstream vs LiteLLM's proxy vs Onshore, side by side (../shared/bench).

    python benchmarks/gateway_compare.py                 # the full matrix (~15 min)
    python benchmarks/gateway_compare.py --quick         # one repetition at c=16 (~1 min)
    python benchmarks/gateway_compare.py -- --no-litellm --concurrency 64   # extra compare.py flags

It makes a throw-away data directory and config (model `bench-model` and `bench-embed` routed to the
harness's upstream on 127.0.0.1:9000), creates an organisation and a key with the real CLI, and lets
compare.py start `onshore serve` pinned to its own core. The harness needs its own virtual
environment (LiteLLM brings ~120 packages): `python3 -m venv ~/.venvs/bench &&
~/.venvs/bench/bin/pip install -r ../shared/bench/requirements.txt`; set BENCH_PYTHON to use another.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT.parent / "shared" / "bench"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1 repetition, c=16, 1000 requests")
    parser.add_argument("--upstream-port", type=int, default=9000)
    parser.add_argument("--name", default=time.strftime("%Y%m%d-%H%M%S"), help="results file name")
    parser.add_argument("extra", nargs="*", help="passed to compare.py (after --)")
    args = parser.parse_args()

    bench_python = os.environ.get("BENCH_PYTHON", str(Path.home() / ".venvs" / "bench" / "bin" / "python"))
    if not Path(bench_python).exists():
        print(f"benchmark venv not found at {bench_python}; see this script's docstring", file=sys.stderr)
        return 2
    onshore = shutil.which("onshore") or str(Path(sys.executable).parent / "onshore")
    work = Path(tempfile.mkdtemp(prefix="onshore-bench-"))
    port = _free_port()
    upstream = f"http://127.0.0.1:{args.upstream_port}/v1"
    config = work / "bench.yaml"
    config.write_text(
        f"data_dir: {work / 'data'}\n"
        f"server: {{port: {port}}}\n"
        "logging: {level: WARNING}\n"
        "backends:\n"
        f"  - {{name: bench, url: '{upstream}', models: [{{name: bench-model}}, {{name: bench-embed}}]}}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONSHORE_")}
    subprocess.run(
        [onshore, "orgs", "create", "bench", "--config", str(config)],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    created = subprocess.run(
        [onshore, "keys", "create", "--org", "bench", "--json", "--config", str(config)],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    )
    key = json.loads(created.stdout)["key"]
    results = ROOT / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    command = [
        bench_python,
        str(BENCH / "compare.py"),
        "--upstream-port",
        str(args.upstream_port),
        "--target",
        f"onshore=http://127.0.0.1:{port}/v1,key={key}",
        "--start",
        f"onshore=exec {onshore} serve --config {config}",
        "--out",
        str(results / f"gateway-{args.name}.json"),
        "--markdown",
        str(results / f"gateway-{args.name}.md"),
    ]
    if args.quick:
        command += ["--repeat", "1", "--concurrency", "16", "--requests", "1000"]
    command += args.extra
    print("running:", " ".join(command[:2]), "...", flush=True)
    try:
        return subprocess.run(command, env=env, check=False).returncode
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
