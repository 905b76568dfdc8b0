"""A real HAProxy (Debian's package) in front of gateway replicas, for tests and benchmarks.

The configuration is the one docs/upgrades.md recommends: health checks on /readyz (a draining
replica answers 503 and leaves the pool within one check), and retries of requests that never
reached a replica or got nothing back (`retry-on conn-failure empty-response`, `option
redispatch`: the retry goes to another replica; `option http-buffer-request`: only a request held
whole is retried). Errors are logged to haproxy.log in its work directory (`log_text`). Stopped by
its PID, never by name.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from tests.support.services import IN_CI, STARTED, free_port

CHECK_INTERVAL_MS = 200

_CONFIG = """\
global
    maxconn 4096
    log stderr format raw local0 info

defaults
    mode http
    log global
    option httplog
    option dontlog-normal
    timeout connect 1s
    timeout client 60s
    timeout server 60s
    timeout check 1s
    timeout http-keep-alive 10s
    retries 3
    retry-on conn-failure empty-response
    option redispatch 1
    option http-buffer-request

frontend gateway
    bind 127.0.0.1:{port}
    default_backend replicas

backend replicas
    balance {balance}
    option httpchk GET /readyz
    http-check expect status 200
    default-server check inter {inter}ms fall 1 rise 2
{servers}

listen stats
    bind 127.0.0.1:{stats_port}
    stats enable
    stats uri /stats
"""


def require_haproxy() -> None:
    """Fail under CI=true, skip elsewhere, when Debian's haproxy is not installed."""
    if shutil.which("haproxy") is None:
        if IN_CI:
            pytest.fail("CI=true: haproxy is required for the multi-replica tests (apt-get install haproxy)")
        pytest.skip("haproxy is not installed")


class HAProxy:
    def __init__(self, replicas: dict[str, int], balance: str = "roundrobin") -> None:
        self.replicas = replicas  # server name -> port
        self.port = free_port()
        self.stats_port = free_port()
        self.balance = balance
        self.workdir = Path(tempfile.mkdtemp(prefix="onshore-haproxy-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> str:
        servers = "\n".join(f"    server {name} 127.0.0.1:{port}" for name, port in self.replicas.items())
        return _CONFIG.format(
            port=self.port,
            stats_port=self.stats_port,
            balance=self.balance,
            inter=CHECK_INTERVAL_MS,
            servers=servers,
        )

    def start(self) -> HAProxy:
        require_haproxy()
        path = self.workdir / "haproxy.cfg"
        path.write_text(self.config())
        log = (self.workdir / "haproxy.log").open("ab")
        # -db: stay in the foreground (stopped by its PID); -Ws would need systemd.
        self.proc = subprocess.Popen(
            ["haproxy", "-db", "-f", str(path)], stdout=log, stderr=subprocess.STDOUT
        )
        STARTED.append(self.proc)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.states()
                return self
            except httpx.HTTPError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("haproxy did not start: " + self.log_text()[-2000:]) from None
                time.sleep(0.05)

    def states(self) -> dict[str, str]:
        """Each replica's state as HAProxy sees it: UP, DOWN, "UP 1/2" (rising), ..."""
        text = httpx.get(f"http://127.0.0.1:{self.stats_port}/stats;csv", timeout=2).text
        rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
        return {
            r["svname"]: r["status"]
            for r in rows
            if r["pxname"] == "replicas" and r["svname"] in self.replicas
        }

    def wait_state(self, name: str, state: str, timeout: float = 15.0) -> float:
        """Wait until HAProxy sees ``name`` in ``state``; the seconds it took."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.states().get(name) == state:
                return time.monotonic() - started
            time.sleep(0.05)
        raise AssertionError(f"haproxy did not see {name} {state} within {timeout}s: {self.states()}")

    def wait_all_up(self, timeout: float = 15.0) -> None:
        for name in self.replicas:
            self.wait_state(name, "UP", timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def log_text(self) -> str:
        path = self.workdir / "haproxy.log"
        return path.read_text(errors="replace") if path.exists() else ""
