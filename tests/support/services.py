"""Real servers for tests: the shared fake engine, the real `onshore serve`, PostgreSQL, Redis.

When CI=true a missing PostgreSQL or Redis fails the test instead of skipping it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
UPSTREAM_SCRIPT = SHARED / "bench" / "upstream.py"
PYTHON = sys.executable
ONSHORE = [PYTHON, "-m", "onshore"]
POSTGRES_ADMIN_URL = os.environ.get("ONSHORE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("ONSHORE_TEST_REDIS", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() == "true"

# Every server a test starts, so the session can stop any that a failed test left behind.
STARTED: list[subprocess.Popen[bytes]] = []


def stop_all_started() -> None:
    for proc in STARTED:
        stop(proc, timeout=10)
    STARTED.clear()


def unavailable(what: str) -> None:
    if IN_CI:
        pytest.fail(f"{what} is required when CI=true but is not reachable")
    pytest.skip(f"{what} not reachable")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 20.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


@dataclass
class Upstream:
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


def start_upstream(tokens: int = 12, extra: list[str] | None = None) -> Upstream:
    if not UPSTREAM_SCRIPT.is_file():
        pytest.fail(f"the shared test upstream is missing: {UPSTREAM_SCRIPT}")
    port = free_port()
    proc = subprocess.Popen(
        [
            PYTHON,
            str(UPSTREAM_SCRIPT),
            "--port",
            str(port),
            "--tokens",
            str(tokens),
            "--dim",
            "64",
            *(extra or []),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    STARTED.append(proc)
    wait_http(f"http://127.0.0.1:{port}/health", proc=proc)
    return Upstream(port, proc)


@dataclass
class Gateway:
    port: int
    config_path: Path
    data_dir: Path
    log_path: Path
    admin_token: str
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def v1(self) -> str:
        return self.base_url + "/v1"

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*ONSHORE, *args, "--config", str(self.config_path)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"onshore {' '.join(args)} failed: {result.stderr}")
        return result

    def create_key(self, org: str, *extra: str) -> tuple[str, str]:
        import json

        if org not in self.keys:
            self.cli("orgs", "create", org, check=False)
            self.keys[org] = org
        data = json.loads(self.cli("keys", "create", "--org", org, "--json", *extra).stdout)
        if self.proc is not None and self.proc.poll() is None and "--expires-in" not in extra:
            self.wait_key_accepted(data["key"])
        return data["id"], data["key"]

    def wait_key_accepted(self, key: str, timeout: float = 5.0) -> float:
        """A running gateway learns new keys by polling; wait for it. Returns the seconds it took."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            response = httpx.get(self.v1 + "/models", headers={"Authorization": f"Bearer {key}"})
            if response.status_code == 200:
                return time.monotonic() - started
            time.sleep(0.02)
        raise AssertionError("the gateway did not accept a new key in time")

    def start(self, wait: bool = True) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [*ONSHORE, "serve", "--config", str(self.config_path), "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        STARTED.append(self.proc)
        if wait:
            wait_http(self.base_url + "/healthz", timeout=30, proc=self.proc)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        return stop(self.proc, sig) if self.proc is not None else 0

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def make_gateway(
    tmp: Path,
    backends: list[dict[str, Any]],
    *,
    database_url: str | None = None,
    redis_url: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Gateway:
    data_dir = tmp / "data"
    config: dict[str, Any] = {
        "data_dir": str(data_dir),
        "backends": backends,
        "logging": {"level": "INFO"},
        "auth": {"sync_interval_s": 0.25},
        # No load balancer waits to see these gateways drain: stop at once (tests of the drain set it).
        "server": {"drain_delay_s": 0},
    }
    if database_url:
        config["database"] = {"url": database_url}
    if redis_url:
        config["redis"] = {"url": redis_url}
    for key, value in (extra or {}).items():
        config[key] = {**config.get(key, {}), **value} if isinstance(value, dict) else value
    config_path = tmp / "onshore.yaml"
    config_path.write_text(yaml.safe_dump(config))
    admin_token = "admin-" + uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONSHORE_")}
    env["ONSHORE_ADMIN_TOKEN"] = admin_token
    return Gateway(free_port(), config_path, data_dir, tmp / "gateway.log", admin_token, env)


def remote_backend(name: str, url: str, *models: str | tuple[str, str], **extra: Any) -> dict[str, Any]:
    entries = []
    for m in models:
        if isinstance(m, tuple):
            entries.append({"name": m[0], "upstream_name": m[1]})
        else:
            entries.append({"name": m})
    return {"name": name, "url": url, "models": entries, **extra}


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for one test (or session), dropped afterwards."""
    import psycopg

    name = "onshore_e2e_" + uuid.uuid4().hex[:10]
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        unavailable("PostgreSQL")
        raise
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def redis_available() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError:
        unavailable("Redis")
    return REDIS_URL
