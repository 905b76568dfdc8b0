"""Start-up checks: missing backend secrets, a port in use, a weak admin token (issues 13 and 15)."""

from __future__ import annotations

import secrets
import socket
from pathlib import Path

import pytest

from onshore.config.checks import admin_token_problem, backend_problems, port_problem
from onshore.config.loading import load_settings


def _settings(tmp_path: Path, api_key_env: str) -> object:
    path = tmp_path / "onshore.yaml"
    path.write_text(
        f"data_dir: {tmp_path}\n"
        "backends:\n"
        f"  - {{name: pool-a, url: 'http://10.0.0.5:8000/v1', api_key_env: {api_key_env}, models: [{{name: m}}]}}\n"
        "  - {name: pool-b, url: 'http://10.0.0.6:8000/v1', models: [{name: n}]}\n"
    )
    return load_settings(path, {})


def test_an_unset_backend_key_is_named_without_a_value(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "POOL_A_KEY")
    assert backend_problems(settings, {}) == [  # type: ignore[arg-type]
        "backend 'pool-a': api_key_env names POOL_A_KEY, which is not set"
    ]
    assert "empty" in backend_problems(settings, {"POOL_A_KEY": " "})[0]  # type: ignore[arg-type]
    assert backend_problems(settings, {"POOL_A_KEY": "sk-real-secret"}) == []  # type: ignore[arg-type]


def test_a_port_someone_listens_on_is_not_free() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        problem = port_problem("127.0.0.1", port)
        assert problem is not None and "in use" in problem and str(port) in problem
    assert port_problem("127.0.0.1", port) is None


def test_an_unresolvable_host_is_a_problem() -> None:
    assert "resolve" in (port_problem("no-such-host.invalid", 8080) or "")


@pytest.mark.parametrize(
    "token",
    [
        "x",
        "letmein",
        "short-but-random-" + secrets.token_hex(4),
        "a" * 64,
        "ab" * 32,
        "abcd1234" * 8,
        "0" * 40,
        "12345678901234567890123456789012",  # 32 digits: only 106 bits
    ],
)
def test_weak_admin_tokens_are_refused(token: str) -> None:
    problem = admin_token_problem(token)
    assert problem is not None and token not in problem


@pytest.mark.parametrize(
    "make",
    [
        lambda: secrets.token_hex(16),
        lambda: secrets.token_hex(32),
        lambda: secrets.token_urlsafe(32),
        lambda: "admin-" + secrets.token_hex(16),
    ],
)
def test_random_admin_tokens_pass(make: object) -> None:
    for _ in range(200):
        token = make()  # type: ignore[operator]
        assert admin_token_problem(token) is None, token


def test_no_admin_token_is_not_a_problem() -> None:
    assert admin_token_problem(None) is None
