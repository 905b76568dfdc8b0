"""``onshore operators`` and ``onshore keys rehash-status`` on a real SQLite database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from onshore.cli.main import cli


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "onshore.yaml"
    path.write_text(f"data_dir: {tmp_path / 'data'}\n")
    return path


def run(config: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [*args, "--config", str(config)], env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_create_prints_the_token_once_and_list_never_shows_it(config: Path) -> None:
    code, out, err = run(config, "operators", "create", "alice", "--role", "auditor", "--expires-in", "90d")
    assert code == 0 and "cannot be shown again" in err
    token = out.split()[-1]
    assert token.startswith("onshore-op-")
    code, out, _ = run(config, "operators", "list", "--json")
    [listed] = json.loads(out)
    assert code == 0 and listed["name"] == "alice" and listed["role"] == "auditor"
    assert listed["tokens"][0]["expires_at"] is not None and token not in out
    code, out, _ = run(config, "operators", "list")
    assert code == 0 and "alice" in out and "auditor" in out and token not in out


def test_grants_tokens_and_revocation(config: Path) -> None:
    code, out, _ = run(
        config, "operators", "create", "bea", "--role", "billing", "--grant", "audit:read", "--json"
    )
    created = json.loads(out)
    assert code == 0 and "audit:read" in created["permissions"] and created["token"].startswith("onshore-op-")
    code, out, _ = run(config, "operators", "token", "bea", "--json")
    second = json.loads(out)
    assert code == 0 and second["token"] != created["token"] and second["operator"] == "bea"
    code, out, _ = run(config, "operators", "revoke", "bea", "--token", created["tokens"][0]["id"], "--json")
    tokens = {t["id"]: t["revoked_at"] for t in json.loads(out)["tokens"]}
    assert code == 0 and tokens[created["tokens"][0]["id"]] is not None and tokens[second["id"]] is None
    code, out, _ = run(config, "operators", "revoke", "bea")
    assert code == 0 and "revoked operator bea" in out
    code, _, err = run(config, "operators", "token", "bea")
    assert code == 1 and "revoked" in err and "Traceback" not in err


def test_mistakes_are_one_line_errors(config: Path) -> None:
    code, _, err = run(config, "operators", "create", "admin", "--role", "admin")
    assert code == 1 and "break-glass" in err
    code, _, err = run(config, "operators", "create", "carl", "--role", "billing", "--grant", "root")
    assert code == 1 and "unknown permission" in err
    code, _, err = run(config, "operators", "create", "carl", "--role", "owner")
    assert code == 2  # click refuses the choice
    code, _, err = run(config, "operators", "revoke", "nobody")
    assert code == 1 and "no operator named" in err


def test_operator_actions_are_audited_under_the_cli_user(config: Path) -> None:
    run(config, "operators", "create", "dan", "--role", "admin")
    code, out, _ = run(config, "audit", "list", "--json")
    entries = json.loads(out)["data"]
    assert code == 0 and any(
        e["action"] == "operator.create" and e["actor"].startswith("cli") for e in entries
    )


def test_rehash_status_follows_a_rotation(config: Path) -> None:
    a, b = "secret-a-" + "1" * 20, "secret-b-" + "2" * 20
    run(config, "orgs", "create", "acme", env={"ONSHORE_SECRET": a})
    run(config, "keys", "create", "--org", "acme", env={"ONSHORE_SECRET": a})
    code, out, _ = run(config, "keys", "rehash-status", "--json", env={"ONSHORE_SECRET": a})
    assert code == 0 and json.loads(out)["current_keys"] == 1 and json.loads(out)["done"]
    rotated = {"ONSHORE_SECRET": b, "ONSHORE_PREVIOUS_SECRETS": a}
    code, out, _ = run(config, "keys", "rehash-status", "--json", env=rotated)
    status = json.loads(out)
    assert code == 0 and list(status["previous"].values()) == [1] and not status["done"]
    code, out, _ = run(config, "keys", "rehash-status", env=rotated)
    assert "still to re-hash" in out and "keep the previous secrets" in out


def test_server_queries_prefer_the_operator_token(monkeypatch: pytest.MonkeyPatch) -> None:
    from onshore.cli.server_view import server_token

    monkeypatch.delenv("ONSHORE_OPERATOR_TOKEN", raising=False)
    monkeypatch.setenv("MY_ADMIN_TOKEN", "break-glass")
    assert server_token("MY_ADMIN_TOKEN") == "break-glass"
    monkeypatch.setenv("ONSHORE_OPERATOR_TOKEN", "onshore-op-mine")
    assert server_token("MY_ADMIN_TOKEN") == "onshore-op-mine"
    monkeypatch.delenv("MY_ADMIN_TOKEN")
    monkeypatch.delenv("ONSHORE_OPERATOR_TOKEN")
    assert server_token("MY_ADMIN_TOKEN") is None
