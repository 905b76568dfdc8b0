"""``onshore backends list`` beside a running server: IN-FLIGHT and QUEUED from its admin API, and
``-`` (null in JSON) whenever no server answers, without failing or waiting long."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from onshore.cli.main import cli
from onshore.cli.server_view import SERVER_TIMEOUT_S, server_url

TOKEN = "admin-token-for-the-backends-view-0123456789"
QUEUES = [
    {
        "model": "m1",
        "capacity": 4,
        "in_flight": 4,
        "queued": 3,
        "waiting": [{"org": "acme", "tier": "standard", "requests": 3}],
        "served_tokens": [{"org": "acme", "tier": "standard", "tokens": 1234}],
    }
]
ANSWER = {
    "object": "list",
    "data": [
        {
            "name": "pool",
            "kind": "openai",
            "models": ["m1", "m2"],
            "reachable": True,
            "in_flight": 5,
            "queued": 3,
            "queues": QUEUES,
        }
    ],
}


class FakeServer:
    """An admin API that answers ``GET /admin/v1/backends`` (or hangs), and notes what it was asked."""

    def __init__(self, *, hang: bool = False) -> None:
        self.asked: list[tuple[str, str | None]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.asked.append((self.path, self.headers.get("Authorization")))
                if hang:
                    time.sleep(5)
                    return
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self.send_response(401)
                    self.end_headers()
                    return
                body = json.dumps(ANSWER).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def write_config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "onshore.yaml"
    path.write_text(
        f"data_dir: {tmp_path / 'data'}\n"
        f"server: {{host: 0.0.0.0, port: {port}}}\n"
        "backends:\n"
        "  - {name: pool, url: 'http://127.0.0.1:9/v1', models: [{name: m1}, {name: m2}],"
        " timeouts: {connect_s: 0.5}}\n"
    )
    return path


def run(config: Path, *args: str, token: str | None = TOKEN) -> tuple[int, str]:
    env = {"ONSHORE_ADMIN_TOKEN": token} if token is not None else {}
    result = CliRunner(env=env).invoke(cli, ["backends", "list", *args, "--config", str(config)])
    assert "Traceback" not in result.stderr
    return result.exit_code, result.stdout


@pytest.fixture(autouse=True)
def _no_token_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ONSHORE_ADMIN_TOKEN", raising=False)


def test_in_flight_and_queued_come_from_the_running_server(tmp_path: Path) -> None:
    with FakeServer() as server:
        config = write_config(tmp_path, server.port)
        code, out = run(config, "--json")
        table_code, table = run(config)

    assert code == 0 and table_code == 0
    [row] = json.loads(out)
    assert (row["in_flight"], row["queued"], row["queues"]) == (5, 3, QUEUES)
    assert row["reachable"] is False  # this command's own probe, not the server's word
    assert server.asked[0] == ("/admin/v1/backends?probe=false", f"Bearer {TOKEN}")
    header, line = table.splitlines()[:2]
    assert "IN-FLIGHT" in header and "QUEUED" in header
    assert line.split()[5:8] == ["NO", "5", "3"]


@pytest.mark.parametrize("token", [None, "wrong-token-wrong-token-wrong-token"])
def test_without_an_answer_the_columns_are_dashes_and_the_json_null(
    tmp_path: Path, token: str | None
) -> None:
    with FakeServer() as server:
        config = write_config(tmp_path, server.port)
        code, out = run(config, "--json", token=token)
        _, table = run(config, token=token)

    assert code == 0
    [row] = json.loads(out)
    assert (row["in_flight"], row["queued"], row["queues"]) == (None, None, None)
    assert table.splitlines()[1].split()[5:8] == ["NO", "-", "-"]
    assert len(server.asked) == (0 if token is None else 2)  # no token: not even asked


def test_no_server_listening_is_no_answer(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        code, out = run(write_config(tmp_path, port), "--json")
    assert code == 0 and json.loads(out)[0]["in_flight"] is None


def test_a_server_that_hangs_costs_the_short_timeout_only(tmp_path: Path) -> None:
    with FakeServer(hang=True) as server:
        started = time.monotonic()
        code, out = run(write_config(tmp_path, server.port), "--json")
        took = time.monotonic() - started

    assert code == 0 and json.loads(out)[0]["queued"] is None
    assert took < SERVER_TIMEOUT_S + 2.0


def test_any_address_is_asked_on_loopback() -> None:
    assert server_url("0.0.0.0", 8080) == "http://127.0.0.1:8080"
    assert server_url("::", 8080) == "http://[::1]:8080"
    assert server_url("10.0.0.5", 81) == "http://10.0.0.5:81"
