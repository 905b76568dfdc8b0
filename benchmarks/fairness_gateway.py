"""Fairness through the real gateway: `onshore serve` at saturation, two organisations at 10:1 load.

The end-to-end twin of ``benchmarks/fairness.py``: the same cases and the same table, but over HTTP.
It starts the shared fake engine (``../shared/bench/upstream.py``) with a fixed service time (every
non-streamed answer comes after ``--service-ms``, whatever its tokens), and a real ``onshore serve`` on
SQLite in front of it whose model has ``max_in_flight`` = ``--capacity``. Each organisation has its own
key and runs closed-loop clients (send, wait for the answer, send again); the large one has ten times
as many. Prompts and ``max_tokens`` are drawn at random, so requests differ in tokens as in
``fairness.py``; the engine's usage is what the gateway charges.

Shares are counted from the answers: each completed response's ``usage.total_tokens``, by completion
time inside the measured window (after a warm-up). The queue wait per organisation is *approximated*
by the client's latency minus the fixed service time (so it includes the gateway's and the loopback's
own time, ~1-3 ms); the gateway's ``onshore_queue_wait_seconds`` histogram is labelled by tier, not
organisation, and its buckets are too coarse for percentiles, so only its exact mean per tier over the
window (sum / count) is shown beside it as a cross-check. Goal: every share within 5 % of the
weighted share.

    .venv/bin/python benchmarks/fairness_gateway.py            # 2 cases x 8 s, ~25 s in all
    .venv/bin/python benchmarks/fairness_gateway.py --seconds 3 --capacity 2 --service-ms 40
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml
from fairness import percentile  # the sibling script (benchmarks/ is this script's sys.path[0])
from prometheus_client.parser import text_string_to_metric_families

from onshore.domain.limits import DEFAULT_TIER_WEIGHTS, Tier

ROOT = Path(__file__).resolve().parents[1]
UPSTREAM = ROOT.parent / "shared" / "bench" / "upstream.py"
# As in fairness.py: the small organisation needs more clients than its share of the places, or it could
# not stay backlogged and would rightly leave part of its share to the large one (work-conserving).
LARGE_CLIENTS, SMALL_CLIENTS = 80, 8
WEIGHTS = DEFAULT_TIER_WEIGHTS  # the gateway runs with the default `scheduling.tier_weights`
PROMPT_TOKENS, COMPLETION_TOKENS = (100, 1500), (50, 500)  # uniform between, as fairness.py's "short"


@dataclass(frozen=True)
class Org:
    role: str  # "large" or "small"
    tier: Tier
    clients: int


@dataclass(frozen=True)
class Case:
    title: str
    orgs: tuple[Org, Org]


CASES = (
    Case(
        "weights 1:1",
        (Org("large", Tier.STANDARD, LARGE_CLIENTS), Org("small", Tier.STANDARD, SMALL_CLIENTS)),
    ),
    Case(
        "weights 2:1 (large standard, small batch)",
        (Org("large", Tier.STANDARD, LARGE_CLIENTS), Org("small", Tier.BATCH, SMALL_CLIENTS)),
    ),
)


@dataclass
class Tally:
    tokens: dict[str, int] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    waits: dict[str, list[float]] = field(default_factory=dict)  # latency - service time
    gateway_mean_wait: dict[Tier, float] = field(default_factory=dict)  # the histogram's, per tier


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args!r} exited with {proc.returncode} before {url} answered")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"{url} did not answer within {timeout:g} s")


class Servers:
    """The fake engine and `onshore serve` (this tree, this Python), on loopback ports, in a temp dir."""

    def __init__(self, work: Path, *, capacity: int, service_ms: float) -> None:
        self.admin_token = "admin-" + uuid.uuid4().hex
        self.models = [f"fair-{i}" for i in range(len(CASES))]  # one queue per case: no leftovers
        self.port = _free_port()
        self._work = work
        self._capacity = capacity
        self._service_ms = service_ms
        self._log = (work / "servers.log").open("ab")
        self._procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        work, capacity, service_ms = self._work, self._capacity, self._service_ms
        upstream_port = _free_port()
        engine = [sys.executable, str(UPSTREAM), "--port", str(upstream_port), "--dim", "64"]
        engine += ["--tokens", str(COMPLETION_TOKENS[1]), "--ttft-ms", str(service_ms)]
        self._start(engine, f"http://127.0.0.1:{upstream_port}/health")
        config = {
            "data_dir": str(work / "data"),
            "logging": {"level": "WARNING"},
            "auth": {"sync_interval_s": 0.25},
            "scheduling": {"queue_timeout_s": 300.0},
            "backends": [
                {
                    "name": "fixed",
                    "url": f"http://127.0.0.1:{upstream_port}/v1",
                    "models": [{"name": m, "max_in_flight": capacity} for m in self.models],
                }
            ],
        }
        config_path = work / "onshore.yaml"
        config_path.write_text(yaml.safe_dump(config))
        env = {k: v for k, v in os.environ.items() if not k.startswith("ONSHORE_")}
        env["ONSHORE_ADMIN_TOKEN"] = self.admin_token
        serve = [
            sys.executable,
            "-m",
            "onshore",
            "serve",
            "--config",
            str(config_path),
            "--port",
            str(self.port),
        ]
        self._start(serve, f"{self.base_url}/healthz", env)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _start(self, argv: list[str], health: str, env: dict[str, str] | None = None) -> None:
        proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        self._procs.append(proc)
        _wait_http(health, proc)

    def key(self, org: str, tier: Tier) -> str:
        """An organisation at ``tier`` and a key for it, through the admin API (in force on return)."""
        admin = httpx.Client(
            base_url=self.base_url + "/admin/v1", headers={"Authorization": f"Bearer {self.admin_token}"}
        )
        with admin:
            admin.post("/orgs", json={"name": org}).raise_for_status()
            admin.put(f"/orgs/{org}/limits", json={"tier": tier.value}).raise_for_status()
            secret: str = admin.post("/keys", json={"org": org}).raise_for_status().json()["key"]
        return secret

    def queue_waits(self, model: str) -> dict[Tier, tuple[float, float]]:
        """``onshore_queue_wait_seconds`` of admitted requests: tier -> (sum, count) since start."""
        text = httpx.get(self.base_url + "/metrics").text
        found: dict[Tier, list[float]] = {}
        for family in text_string_to_metric_families(text):
            if family.name != "onshore_queue_wait_seconds":
                continue
            for s in family.samples:
                if s.labels.get("model") != model or s.labels.get("outcome") != "admitted":
                    continue
                slot = found.setdefault(Tier(s.labels["tier"]), [0.0, 0.0])
                if s.name.endswith("_sum"):
                    slot[0] = s.value
                elif s.name.endswith("_count"):
                    slot[1] = s.value
        return {tier: (v[0], v[1]) for tier, v in found.items()}

    def stop(self) -> None:
        for proc in reversed(self._procs):
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self._log.close()


async def _client(
    http: httpx.AsyncClient,
    key: str,
    name: str,
    model: str,
    rng: random.Random,
    out: list[tuple[str, float, float, int]],
) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    while True:
        # The engine counts ~4 characters a token; completion tokens are capped by max_tokens.
        prompt = "x" * (4 * rng.randint(*PROMPT_TOKENS))
        body = {
            "model": model,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": rng.randint(*COMPLETION_TOKENS),
        }
        sent = time.monotonic()
        response = await http.post("/chat/completions", json=body, headers=headers)
        done = time.monotonic()
        if response.status_code != 200:
            raise RuntimeError(f"{name}: HTTP {response.status_code}: {response.text[:300]}")
        out.append((name, sent, done, int(response.json()["usage"]["total_tokens"])))


async def run_case(
    servers: Servers, case: Case, model: str, *, service_s: float, seconds: float, seed: int
) -> Tally:
    names = {org.role: f"{org.role}-{model}-{uuid.uuid4().hex[:4]}" for org in case.orgs}
    keys = {org.role: servers.key(names[org.role], org.tier) for org in case.orgs}
    answers: list[tuple[str, float, float, int]] = []
    rng = random.Random(seed)
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
    async with httpx.AsyncClient(base_url=servers.base_url + "/v1", timeout=300.0, limits=limits) as http:
        tasks = [
            asyncio.create_task(
                _client(http, keys[org.role], org.role, model, random.Random(rng.random()), answers)
            )
            for org in case.orgs
            for _ in range(org.clients)
        ]
        start = time.monotonic()
        warm_up = min(2.0, seconds / 4)
        await asyncio.sleep(warm_up)
        before = await asyncio.to_thread(servers.queue_waits, model)
        await asyncio.sleep(seconds)
        after = await asyncio.to_thread(servers.queue_waits, model)
        for task in tasks:
            task.cancel()
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if not isinstance(result, asyncio.CancelledError):
                raise SystemExit(f"a client failed: {result!r}")
    begin, end = start + warm_up, start + warm_up + seconds
    tally = Tally()
    for role, sent, done, tokens in answers:
        if begin <= done < end:
            tally.tokens[role] = tally.tokens.get(role, 0) + tokens
            tally.requests[role] = tally.requests.get(role, 0) + 1
            tally.waits.setdefault(role, []).append(max(0.0, done - sent - service_s))
    for tier, (total, count) in after.items():
        old_total, old_count = before.get(tier, (0.0, 0.0))
        if count > old_count:
            tally.gateway_mean_wait[tier] = (total - old_total) / (count - old_count)
    return tally


def report(case: Case, tally: Tally) -> list[str]:
    total = sum(tally.tokens.values()) or 1
    weight_sum = sum(WEIGHTS[o.tier] for o in case.orgs)
    rows = []
    for org in case.orgs:
        share = tally.tokens.get(org.role, 0) / total
        target = WEIGHTS[org.tier] / weight_sum
        off = (share - target) / target
        waits = tally.waits.get(org.role, [])
        mean = tally.gateway_mean_wait.get(org.tier)
        rows.append(
            f"| {case.title} | {org.role} ({org.tier.value}, {org.clients} clients) "
            f"| {tally.requests.get(org.role, 0):,} | {tally.tokens.get(org.role, 0):,} "
            f"| {share:.1%} | {target:.1%} | {off:+.1%} {'✓' if abs(off) <= 0.05 else '✗'} "
            f"| {percentile(waits, 50) * 1000:.0f} | {percentile(waits, 99) * 1000:.0f} "
            f"| {'-' if mean is None else f'{mean * 1000:.0f}'} |"
        )
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per case (8)")
    parser.add_argument("--capacity", type=int, default=4, help=f"max_in_flight (4; at most {SMALL_CLIENTS})")
    parser.add_argument(
        "--service-ms", type=float, default=40.0, help="the engine's fixed service time (40 ms)"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if not UPSTREAM.is_file():
        raise SystemExit(f"the shared fake engine is missing: {UPSTREAM}")
    work = Path(tempfile.mkdtemp(prefix="onshore-fairness-"))
    servers = Servers(work, capacity=args.capacity, service_ms=args.service_ms)
    try:
        servers.start()
        print(
            "through `onshore serve` (HTTP, SQLite ledger) in front of the shared fake engine: "
            f"max_in_flight {args.capacity}, fixed service time {args.service_ms:g} ms "
            f"({args.capacity / args.service_ms * 1000:.0f} requests/s), "
            f"{args.seconds:g} s measured per case, "
            f"tier weights priority/standard/batch {WEIGHTS[Tier.PRIORITY]:g}/{WEIGHTS[Tier.STANDARD]:g}/"
            f"{WEIGHTS[Tier.BATCH]:g}; closed-loop clients {LARGE_CLIENTS}:{SMALL_CLIENTS}. Wait = client "
            "latency - service time (approximation); gateway mean = onshore_queue_wait_seconds sum/count "
            "per tier over the window (both orgs when they share a tier)\n"
        )
        print(
            "| case | organisation | requests | tokens | share of tokens | weighted share | off by "
            "| p50 wait ms | p99 wait ms | gateway mean wait ms |"
        )
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for case, model in zip(CASES, servers.models, strict=True):
            tally = await run_case(
                servers, case, model, service_s=args.service_ms / 1000, seconds=args.seconds, seed=args.seed
            )
            for row in report(case, tally):
                print(row, flush=True)
    finally:
        servers.stop()


if __name__ == "__main__":
    asyncio.run(main())
