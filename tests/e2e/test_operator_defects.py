"""The operator's defects of issue 15 (and issue 13 items 9 and 10), reproduced from outside.

The README's quickstart is run as written in an empty directory: `onshore init`, `onshore serve
--config onshore.yaml`, then the partner-management commands *without* --config, whose key must
work on the running server (it was written to another database before).
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest

from tests.support.services import ONSHORE, STARTED, Gateway, free_port, make_gateway, stop, wait_http

pytestmark = pytest.mark.slow
STRONG_ADMIN_TOKEN = "e2e-" + "9f3c2a71d84b5e06" * 3


@dataclass
class Shell:
    """A working directory and an environment, like an operator's terminal."""

    cwd: Path
    env: dict[str, str]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*ONSHORE, *args],
            check=False,
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )


@pytest.fixture
def shell(tmp_path: Path) -> Shell:
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONSHORE_")}
    # Keep the default data directory inside the test: a wrong database shows up there, not in ~.
    env.update(HOME=str(tmp_path / "home"), XDG_DATA_HOME=str(tmp_path / "xdg"))
    env["ONSHORE_ADMIN_TOKEN"] = STRONG_ADMIN_TOKEN
    env["ONSHORE_SERVER__PORT"] = str(free_port())  # the documented override; 8080 may be taken
    return Shell(work, env)


@pytest.fixture
def served(shell: Shell) -> Iterator[tuple[Shell, str]]:
    """`onshore init` then `onshore serve --config onshore.yaml`, as the README's quickstart says."""
    init = shell.run("init")
    assert init.returncode == 0, init.stderr
    match = re.search(r"sk-onshore-\S+", init.stdout)
    assert match is not None, init.stdout
    log = (shell.cwd / "serve.log").open("ab")
    proc = subprocess.Popen(
        [*ONSHORE, "serve", "--config", "onshore.yaml"],
        cwd=shell.cwd,
        env=shell.env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    STARTED.append(proc)
    try:
        wait_http(f"http://127.0.0.1:{shell.env['ONSHORE_SERVER__PORT']}/healthz", timeout=120, proc=proc)
        yield shell, match.group(0)
    finally:
        stop(proc)


def _accepted(port: str, key: str, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = httpx.get(f"http://127.0.0.1:{port}/v1/models", headers={"Authorization": f"Bearer {key}"})
        if answer.status_code == 200:
            return True
        time.sleep(0.05)
    return False


def test_readme_quickstart_and_partner_commands_as_written(served: tuple[Shell, str]) -> None:
    shell, init_key = served
    port = shell.env["ONSHORE_SERVER__PORT"]
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=init_key, max_retries=0)
    vector = client.embeddings.create(model="all-minilm-l6-v2", input="안녕하세요").data[0].embedding
    assert len(vector) == 384
    # "Then manage partners": no --config, from the directory `init` ran in.
    assert shell.run("orgs", "create", "kakao").returncode == 0
    created = shell.run(
        "keys",
        "create",
        "--org",
        "kakao",
        "--name",
        "prod",
        "--models",
        "llama-3.1-8b",
        "--expires-in",
        "90d",
        "--json",
    )
    assert created.returncode == 0, created.stderr
    key = re.search(r'"key": "(sk-onshore-[^"]+)"', created.stdout)
    assert key is not None
    assert _accepted(port, key.group(1)), "the key the CLI printed is refused by the running server"
    for args in (
        ("keys", "list", "--org", "kakao"),
        ("backends", "list"),
        ("usage", "--org", "kakao", "--month", "2026-11", "--json"),
    ):
        result = shell.run(*args)
        assert result.returncode == 0 and result.stderr == "", (args, result.stderr)
    assert not (Path(shell.env["XDG_DATA_HOME"]) / "onshore").exists()  # nothing went elsewhere
    # The files the server and init made are private to the operator.
    data = shell.cwd / "onshore-data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for name in ("onshore.db", "secret.key"):
        assert stat.S_IMODE((data / name).stat().st_mode) & 0o077 == 0, name


def test_the_install_and_start_command_can_run_twice(shell: Shell) -> None:
    first = shell.run("init")
    again = shell.run("init")
    assert first.returncode == 0 and again.returncode == 0, again.stderr
    assert "kept config onshore.yaml" in again.stdout
    assert re.search(r"sk-onshore-\w{8}", again.stdout) is None  # no second key shown


def test_a_misspelt_variable_stops_serve_with_one_line(shell: Shell) -> None:
    shell.env["ONSHORE_SERVER_PORT"] = "9000"
    result = shell.run("serve")
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "did you mean ONSHORE_SERVER__PORT?" in result.stderr


def test_admin_api_refuses_a_huge_duration_with_400(gateway: Gateway) -> None:
    admin = {"Authorization": f"Bearer {gateway.admin_token}"}
    base = gateway.base_url + "/admin/v1"
    assert httpx.post(base + "/orgs", json={"name": "durations"}, headers=admin).status_code in (201, 409)
    for expires_in in ("99999999d", "3651d"):
        answer = httpx.post(
            base + "/keys", json={"org": "durations", "expires_in": expires_in}, headers=admin
        )
        assert answer.status_code == 400, answer.text
        error = answer.json()["error"]
        assert error["param"] == "expires_in" and "too long" in error["message"]


def test_a_weak_admin_token_disables_the_admin_api(tmp_path: Path) -> None:
    gw = make_gateway(tmp_path, [])
    gw.env["ONSHORE_ADMIN_TOKEN"] = "x"
    gw.start()
    try:
        answer = httpx.get(gw.base_url + "/admin/v1/orgs", headers={"Authorization": "Bearer x"})
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "admin_disabled"
    finally:
        gw.stop()
