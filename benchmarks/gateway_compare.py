"""One command: direct upstream vs LiteLLM vs Portkey vs nginx vs Onshore (and Onshore before/after).

The harness is ../shared/bench (compare.py, load.py, upstream.py; see its README). This script makes a
throw-away data directory and config per Onshore tree (model `bench-model` and `bench-embed` routed to
the harness's upstream on 127.0.0.1:9000), creates an organisation and a key with that tree's own CLI,
and lets compare.py start every gateway pinned to its own core, one target after the other in the
same run. At the end it prints one side-by-side table (req/s, added latency p50/p99, CPU ms per
request) and the ratios Onshore/LiteLLM, Onshore/Portkey, Onshore CPU vs nginx CPU, and after/before.

Targets, each install-or-explain (a missing one is skipped with the command that gets it):
  direct   the fake upstream itself (its CPU column is the upstream's own cost)
  litellm  LiteLLM's proxy from the benchmark venv (BENCH_PYTHON, default ~/.venvs/bench/bin/python):
             python3 -m venv ~/.venvs/bench
             ~/.venvs/bench/bin/pip install -r ../shared/bench/requirements.txt
  nginx    plain reverse proxy, the CPU floor of any gateway:  apt-get update && apt-get install -y nginx
  portkey  Portkey's open-source gateway (Node 20+): npm installs it once into benchmarks/.anchors/portkey
             (git-ignored) with hono and @hono/node-server pinned as Portkey's own lockfile pins them
             (with the newest ones its streams fail with HTTP 500); --no-install only explains.
  onshore       this working tree (PYTHONPATH=<repo>/src, run with this venv's Python)
  onshore-base  with --baseline-src PATH: another source tree, same venv, PYTHONPATH=PATH/src. Each
             Onshore child prints `onshore imported from ...` first; the script checks it in both logs.

The final measurement, on a quiet machine (nothing else running; 12-15 minutes):

    git worktree add --detach /tmp/onshore-base <BEFORE_COMMIT>     # the tree to compare against
    .venv/bin/python benchmarks/gateway_compare.py --baseline-src /tmp/onshore-base --name before-after \\
        -- --concurrency 1,64 --modes nonstream,stream --repeat 3 --requests 6000 --max-seconds 20
    git worktree remove /tmp/onshore-base

  (6,000 requests per cell give Onshore ~70 CPU ticks, so CPU/request resolves to ~1.5%; --max-seconds
  bounds LiteLLM's and Portkey's cells to 20 s each.) Only plain or only streaming: --modes nonstream
  or --modes stream. A smoke test (~2 minutes, numbers meaningless):

    .venv/bin/python benchmarks/gateway_compare.py --baseline-src /tmp/onshore-base --smoke

Admission (issue 8): `--limits memory,redis,memory-typical,redis-typical` adds this tree again with
limits set (every limit of the key and its organisation, or a typical contract: the key's rpm and
tpm and the organisation's KRW budget), counters in process or in the Redis on 127.0.0.1:6379, and a
table of what limits cost against limits off:

    .venv/bin/python benchmarks/gateway_compare.py --limits memory,redis,memory-typical,redis-typical \\
        --anchors '' --name admission \\
        -- --concurrency 1,64 --modes nonstream --repeat 3 --requests 6000 --max-seconds 20

Results: benchmarks/results/gateway-NAME.json (every run; git-ignored) and gateway-NAME.md (tables).
Everything after `--` goes to compare.py (`--help` there lists it: --tokens, --token-delay-ms, ...).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT.parent / "shared" / "bench"
ANCHORS = ROOT / "benchmarks" / ".anchors"
UPSTREAM_KEY = "sk-bench-upstream"  # compare.py's upstream accepts any key; nginx and Portkey pass it on
# Every Onshore child starts with this script: it prints where it imported onshore from, then runs the
# CLI as `python -m onshore` would. Written to the work folder; sys.path[0] is that folder, then PYTHONPATH.
LAUNCH = """import runpy, sys, onshore
print("onshore imported from", onshore.__file__, file=sys.stderr, flush=True)
runpy.run_module("onshore", run_name="__main__", alter_sys=True)
"""
IMPORTED = re.compile(r"onshore imported from (\S+)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Onshore:
    """One Onshore source tree as a compare.py target."""

    name: str
    src: Path  # the folder that holds the `onshore` package
    config: Path
    port: int
    key: str = ""

    def argv(self, python: str, *args: str) -> list[str]:
        launcher = self.config.parent.parent / "launch_onshore.py"
        return ["env", f"PYTHONPATH={self.src}", python, str(launcher), *args]


def _clean_env() -> dict[str, str]:
    # ONSHORE_* would override the throw-away config; a PYTHONPATH would decide which tree is imported
    return {k: v for k, v in os.environ.items() if not k.startswith("ONSHORE_") and k != "PYTHONPATH"}


# Admission variants of this tree (issue 8): "<store>" or "<store>-typical", store memory or redis.
# All limits are high enough never to refuse, so each request pays for all of its counters.
#   memory, redis: every kind of limit on the key and its organisation: key rpm/tpm/concurrency,
#     org rpm/tpm/monthly tokens and a KRW budget (priced): seven counters per request.
#   memory-typical, redis-typical: what a partner contract usually sets: the key's rpm and tpm and
#     the organisation's KRW budget (priced): three counters.
LIMIT_STORES = {
    "memory": "limits: {store: memory}\n",
    "redis": "redis: {url: 'redis://127.0.0.1:6379/0'}\nlimits: {store: redis}\n",
}
_HIGH = str(10**12)
_PRICE = ["prices", "set", "--model", "bench-model", "--input", "1000", "--output", "2000"]


def _limit_commands(variant: str, key_id: str) -> list[list[str]]:
    key = ["limits", "set", "--key", key_id, "--rpm", _HIGH, "--tpm", _HIGH]
    org = ["limits", "set", "--org", "bench", "--monthly-budget-krw", _HIGH]
    if variant.endswith("-typical"):
        return [_PRICE, org, key]
    return [
        _PRICE,
        [*org, "--rpm", _HIGH, "--tpm", _HIGH, "--monthly-tokens", _HIGH],
        [*key, "--max-concurrent", "1000000"],
    ]


def _limit_store(variant: str) -> str:
    store = variant.removesuffix("-typical")
    if store not in LIMIT_STORES:
        raise SystemExit(
            f"--limits: unknown variant {variant!r} (memory, redis, memory-typical, redis-typical)"
        )
    return LIMIT_STORES[store]


def _prepare_onshore(
    name: str, tree: Path, python: str, work: Path, upstream: str, limits: str | None = None
) -> Onshore:
    src = (tree / "src").resolve()
    if not (src / "onshore" / "__init__.py").exists():
        raise SystemExit(f"{name}: no src/onshore/__init__.py under {tree}")
    data = work / name
    data.mkdir(parents=True)
    (work / "launch_onshore.py").write_text(LAUNCH)
    target = Onshore(name, src, data / "bench.yaml", _free_port())
    target.config.write_text(
        f"data_dir: {data / 'data'}\n"
        f"server: {{port: {target.port}}}\n"
        "logging: {level: WARNING}\n"
        "backends:\n"
        f"  - {{name: bench, url: '{upstream}', models: [{{name: bench-model}}, {{name: bench-embed}}]}}\n"
        + (_limit_store(limits) if limits else "")
    )
    env = _clean_env()
    cfg = ["--config", str(target.config)]
    subprocess.run(
        target.argv(python, "orgs", "create", "bench", *cfg),
        check=True,
        env=env,
        capture_output=True,
        text=True,
    )
    created = subprocess.run(
        target.argv(python, "keys", "create", "--org", "bench", "--json", *cfg),
        check=True,
        env=env,
        capture_output=True,
        text=True,
    )
    imported = IMPORTED.search(created.stderr)
    _expect_tree(name, imported.group(1) if imported else "?", src)
    target.key = json.loads(created.stdout)["key"]
    if limits:
        for command in _limit_commands(limits, json.loads(created.stdout)["id"]):
            subprocess.run(target.argv(python, *command, *cfg), check=True, env=env, capture_output=True)
    return target


def _expect_tree(name: str, module_file: str, src: Path) -> None:
    where = Path(module_file).resolve()
    print(f"check: {name} imports onshore from {where}", flush=True)
    if not where.is_relative_to(src):
        raise SystemExit(f"{name}: onshore was imported from {where}, not from {src}")


def _anchor_version(script: Path, default: str) -> str:
    """The Portkey version that anchors/portkey.sh pins, so both install the same one."""
    found = re.search(r"^version=(\S+)", script.read_text(), re.M) if script.exists() else None
    return found.group(1) if found else default


# Portkey's own package-lock.json (tag v1.15.2) pins these two; a plain `npm install` of the package
# takes the newest instead, and with those its Node build answers every stream with HTTP 500
# ("TypeError: immutable" on the response headers; Portkey-AI/gateway issues 1389 and 1550).
# Their Docker image installs from the lockfile, so these overrides give the Portkey that ships.
PORTKEY_LOCKED = {"hono": "4.9.7", "@hono/node-server": "1.13.5"}


def _portkey_installed(folder: Path) -> bool:
    entry = folder / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"
    for name, version in PORTKEY_LOCKED.items():
        meta = folder / "node_modules" / name / "package.json"
        if not meta.exists() or json.loads(meta.read_text()).get("version") != version:
            return False
    return entry.exists()


def _portkey(install: bool) -> Path | None:
    """Portkey's install folder (installed now if needed and allowed), or None with the reason printed."""
    folder = ANCHORS / "portkey"
    if _portkey_installed(folder):
        return folder
    version = _anchor_version(BENCH / "anchors" / "portkey.sh", "1.15.2")
    manifest = {
        "private": True,
        "dependencies": {"@portkey-ai/gateway": version},
        "overrides": PORTKEY_LOCKED,
    }
    how = f"write {json.dumps(manifest)} to {folder}/package.json, then: cd {folder} && npm install"
    if not shutil.which("node") or not shutil.which("npm"):
        print(f"skip portkey: needs Node.js 20+ and npm (apt-get install -y nodejs npm), then {how}")
        return None
    if not install:
        print(f"skip portkey: not installed (--no-install); drop that flag to let npm get it, or {how}")
        return None
    print(f"installing Portkey's gateway {version} into {folder} (once, ~15 s) ...", flush=True)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "package.json").write_text(json.dumps(manifest, indent=1) + "\n")
    (folder / "package-lock.json").unlink(missing_ok=True)  # a lock from another manifest would win
    done = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund"], cwd=folder, capture_output=True, text=True, check=False
    )
    if done.returncode != 0 or not _portkey_installed(folder):
        print(f"skip portkey: npm install failed ({done.stderr.strip()[-300:]}); {how}")
        return None
    return folder


def _nginx() -> str | None:
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )
    if not found:
        print("skip nginx: not installed; get it with: apt-get update && apt-get install -y nginx")
    return found


def _bench_python() -> tuple[str, bool]:
    """The Python that runs the harness, and whether LiteLLM sits beside it."""
    python = os.environ.get("BENCH_PYTHON", str(Path.home() / ".venvs" / "bench" / "bin" / "python"))
    if Path(python).exists():
        has_litellm = (Path(python).parent / "litellm").exists() or bool(shutil.which("litellm"))
        if not has_litellm:
            print(f"skip litellm: not beside {python}; install ../shared/bench/requirements.txt into it")
        return python, has_litellm
    # this venv has the harness's own needs (httptools, uvloop, orjson) as Onshore dependencies
    print(
        f"skip litellm: benchmark venv {python} not found; create it with: python3 -m venv ~/.venvs/bench"
        f" && ~/.venvs/bench/bin/pip install -r {BENCH / 'requirements.txt'}  (or set BENCH_PYTHON)"
    )
    return sys.executable, False


def _row(rows: list[dict[str, Any]], mode: str, c: int, target: str) -> dict[str, Any] | None:
    return next((r for r in rows if (r["mode"], r["concurrency"], r["target"]) == (mode, c, target)), None)


def _num(v: float | None, digits: int = 2) -> str:
    if v is None:
        return "-"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.{digits}f}"


def _times(num: float | None, den: float | None) -> str:
    return "-" if not num or not den else _num(num / den, 1) + "x"


def _pct(after: float | None, before: float | None) -> str:
    return "-" if not after or not before else f"{100 * (after / before - 1):+.1f}%"


def report(rows: list[dict[str, Any]], names: list[str]) -> str:
    """Side-by-side medians and the ratios the issues ask for, from compare.py's summary rows."""
    modes = [m for m in ("nonstream", "stream") if any(r["mode"] == m for r in rows)]
    concs = sorted({int(r["concurrency"]) for r in rows})
    out = ["\n## Side by side (medians; CPU ms per request = CPU s/1k req)\n"]
    out.append("| mode | c | target | req/s | added p50 ms | added p99 ms | CPU ms/req | errors |")
    out.append("|---|---|---|---|---|---|---|---|")
    for mode in modes:
        for c in concs:
            for name in names:
                r = _row(rows, mode, c, name)
                if r is None:
                    out.append(f"| {mode} | {c} | {name} | no successful run | | | | |")
                    continue
                out.append(
                    f"| {mode} | {c} | {name} | {_num(r['rps'], 1)} | {_num(r['added_p50_ms'])} | "
                    f"{_num(r['added_p99_ms'])} | {_num(r['cpu_s_per_1k'], 3)} | {r['errors']} |"
                )
    out.append("\n## Ratios (throughput: Onshore's req/s over theirs; CPU: theirs over Onshore's)\n")
    out.append(
        "| mode | c | onshore | req/s vs LiteLLM | CPU vs LiteLLM | req/s vs Portkey | CPU vs Portkey "
        "| CPU / nginx CPU | req/s vs before | CPU/req vs before |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for mode in modes:
        for c in concs:
            on = _row(rows, mode, c, "onshore")
            if on is None:
                continue
            lit, pk, ng, base = (
                _row(rows, mode, c, n) for n in ("litellm", "portkey", "nginx", "onshore-base")
            )
            rps, cpu = on["rps"], on["cpu_s_per_1k"]

            def get(r: dict[str, Any] | None, k: str) -> float | None:
                return None if r is None else r[k]

            out.append(
                f"| {mode} | {c} | {_num(rps, 1)} req/s, {_num(cpu, 3)} ms | "
                f"{_times(rps, get(lit, 'rps'))} | {_times(get(lit, 'cpu_s_per_1k'), cpu)} | "
                f"{_times(rps, get(pk, 'rps'))} | {_times(get(pk, 'cpu_s_per_1k'), cpu)} | "
                f"{_times(cpu, get(ng, 'cpu_s_per_1k'))} | "
                f"{_pct(rps, get(base, 'rps'))} | {_pct(cpu, get(base, 'cpu_s_per_1k'))} |"
            )
    variants = [n for n in names if n.startswith("onshore-limits-")]
    if variants:
        out.append("\n## Admission: the same tree with every limit set (vs limits off)\n")
        out.append("| mode | c | target | req/s | CPU ms/req | CPU vs limits off | req/s vs LiteLLM |")
        out.append("|---|---|---|---|---|---|---|")
        for mode in modes:
            for c in concs:
                off, lit = _row(rows, mode, c, "onshore"), _row(rows, mode, c, "litellm")
                for name in ["onshore", *variants]:
                    r = _row(rows, mode, c, name)
                    if r is None:
                        continue
                    base_cpu = None if off is None else off["cpu_s_per_1k"]
                    out.append(
                        f"| {mode} | {c} | {name} | {_num(r['rps'], 1)} | {_num(r['cpu_s_per_1k'], 3)} | "
                        f"{_pct(r['cpu_s_per_1k'], base_cpu)} | "
                        f"{_times(r['rps'], None if lit is None else lit['rps'])} |"
                    )
    return "\n".join(out) + "\n"


def _check_logs(logs: Path, onshores: list[Onshore]) -> bool:
    """The served processes (not only the set-up commands) imported each tree they were meant to."""
    ok = True
    for o in onshores:
        log = logs / f"{o.name}.log"
        found = IMPORTED.search(log.read_text(errors="replace")) if log.exists() else None
        where = Path(found.group(1)).resolve() if found else None
        good = where is not None and where.is_relative_to(o.src)
        print(f"check: served {o.name} imported onshore from {where} ({'ok' if good else 'WRONG TREE'})")
        ok = ok and good
    return ok


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline-src", type=Path, help="second Onshore tree (e.g. a git worktree)")
    parser.add_argument("--anchors", default="nginx,portkey", help="comma-separated; '' for none")
    parser.add_argument("--no-install", action="store_true", help="do not npm-install Portkey; explain")
    parser.add_argument("--quick", action="store_true", help="1 repetition, c=16, 1000 requests")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny end-to-end check; the numbers mean nothing"
    )
    parser.add_argument(
        "--limits",
        default="",
        help="also run this tree with limits set: memory, redis (every limit), memory-typical, "
        "redis-typical (key rpm+tpm, org budget); comma-separated",
    )
    parser.add_argument("--upstream-port", type=int, default=9000)
    parser.add_argument("--name", default=time.strftime("%Y%m%d-%H%M%S"), help="results file name")
    parser.add_argument("extra", nargs="*", help="passed to compare.py (after --)")
    return parser.parse_args()


def main() -> int:
    args = _parse()
    bench_python, has_litellm = _bench_python()
    anchors = {a.strip() for a in args.anchors.split(",") if a.strip()}
    upstream = f"http://127.0.0.1:{args.upstream_port}/v1"
    work = Path(tempfile.mkdtemp(prefix="onshore-bench-"))
    logs = Path(tempfile.mkdtemp(prefix="onshore-bench-logs-"))  # kept when something fails
    try:
        trees: list[tuple[str, Path, str | None]] = [("onshore", ROOT, None)]
        if args.baseline_src:
            trees.append(("onshore-base", args.baseline_src, None))
        for variant in (v.strip() for v in args.limits.split(",") if v.strip()):
            _limit_store(variant)  # refuses an unknown one before anything starts
            trees.append((f"onshore-limits-{variant}", ROOT, variant))
        try:
            onshores = [
                _prepare_onshore(n, tree, sys.executable, work, upstream, limits) for n, tree, limits in trees
            ]
        except subprocess.CalledProcessError as e:
            print(f"setting up Onshore failed: {e.cmd[4:]}: {e.stderr!s:.800}", file=sys.stderr)
            return 2
        command = [bench_python, str(BENCH / "compare.py"), "--upstream-port", str(args.upstream_port)]
        command += ["--logs", str(logs)]
        for o in onshores:
            serve = shlex.join(o.argv(sys.executable, "serve", "--config", str(o.config)))
            command += ["--target", f"{o.name}=http://127.0.0.1:{o.port}/v1,key={o.key}"]
            command += ["--start", f"{o.name}=exec {serve}"]
        env = _clean_env()
        if "nginx" in anchors and (nginx := _nginx()):
            port = _free_port()
            env["PATH"] = f"{Path(nginx).parent}{os.pathsep}{env.get('PATH', '')}"  # /usr/sbin for non-root
            script = shlex.quote(str(BENCH / "anchors" / "nginx.sh"))
            command += ["--target", f"nginx=http://127.0.0.1:{port}/v1,key={UPSTREAM_KEY}"]
            command += ["--start", f"nginx=exec {script} {port} {args.upstream_port}"]
        if "portkey" in anchors and (folder := _portkey(not args.no_install)):
            port = _free_port()
            script = shlex.quote(str(BENCH / "anchors" / "portkey.sh"))
            headers = f"header=x-portkey-provider:openai,header=x-portkey-custom-host:{upstream}"
            command += ["--target", f"portkey=http://127.0.0.1:{port}/v1,key={UPSTREAM_KEY},{headers}"]
            command += ["--start", f"portkey=exec env PORTKEY_DIR={shlex.quote(str(folder))} {script} {port}"]
        if not has_litellm:
            command.append("--no-litellm")
        results = ROOT / "benchmarks" / "results"
        results.mkdir(exist_ok=True)
        out, markdown = results / f"gateway-{args.name}.json", results / f"gateway-{args.name}.md"
        command += ["--out", str(out), "--markdown", str(markdown)]
        if args.quick:
            command += ["--repeat", "1", "--concurrency", "16", "--requests", "1000"]
        if args.smoke:
            # tiny and impatient: on a busy machine do not wait for quiet, do not redo disturbed runs
            command += ["--repeat", "1", "--concurrency", "1,64", "--requests", "200"]
            command += ["--direct-requests", "2000", "--max-seconds", "10"]
            command += ["--quiet-wait", "0", "--retries", "0"]
        command += args.extra
        shown = re.sub(r"key=sk-onshore-[^,\s]+", "key=<throw-away key>", shlex.join(command))
        print("running:", shown, flush=True)
        code = subprocess.run(command, env=env, check=False).returncode
        if code != 0 or not out.exists():
            print(f"compare.py exited with {code}; logs of started processes: {logs}", file=sys.stderr)
            return code or 1
        summary = json.loads(out.read_text())
        names = list(summary["meta"]["targets"])
        table = report(summary["summary"], names)
        print(table)
        with markdown.open("a") as f:
            f.write(table)
        if not _check_logs(logs, onshores):
            return 3
        shutil.rmtree(logs, ignore_errors=True)
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
