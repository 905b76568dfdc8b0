"""The operator CLI's public contract: names, --json documents, one-line errors, exit codes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from onshore.cli.main import cli


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "onshore.yaml"
    path.write_text(
        f"data_dir: {tmp_path / 'data'}\n"
        "backends:\n"
        "  - {name: nowhere, url: 'http://127.0.0.1:9/v1', models: [{name: m1}, {name: m2}],"
        " timeouts: {connect_s: 0.5}}\n"
    )
    return path


def run(config: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [*args, "--config", str(config)], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_orgs_and_keys_round_trip(config: Path) -> None:
    code, out, _ = run(config, "orgs", "create", "kakao", "--json")
    assert code == 0 and json.loads(out)["name"] == "kakao"
    code, out, _ = run(
        config,
        "keys",
        "create",
        "--org",
        "kakao",
        "--name",
        "prod",
        "--models",
        "m1,m2",
        "--expires-in",
        "30d",
        "--json",
    )
    created = json.loads(out)
    assert code == 0 and created["key"].startswith("sk-onshore-") and created["id"].startswith("key_")
    assert created["models"] == ["m1", "m2"] and created["expires_at"]
    code, out, _ = run(config, "keys", "list", "--org", "kakao", "--json")
    listed = json.loads(out)
    assert [k["id"] for k in listed] == [created["id"]]
    assert "key" not in listed[0] and created["key"] not in out  # never shown again
    code, out, _ = run(config, "keys", "revoke", created["id"], "--json")
    assert code == 0 and json.loads(out)["revoked_at"]
    code, out, _ = run(config, "orgs", "list", "--json")
    assert [o["name"] for o in json.loads(out)] == ["kakao"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("keys", "create", "--org", "nobody"), "no organisation named 'nobody'"),
        (("keys", "create", "--org", "x", "--expires-in", "soon"), "invalid duration"),
        (("keys", "revoke", "key_missing"), "no key with id"),
        (("usage", "--org", "x", "--month", "2026-13"), "invalid month"),
        (("orgs", "create", "bad/name"), "organisation names"),
    ],
)
def test_user_errors_exit_1_with_one_line(config: Path, args: tuple[str, ...], needle: str) -> None:
    run(config, "orgs", "create", "x")
    code, _, err = run(config, *args)
    assert code == 1
    assert needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_duplicate_org_is_a_user_error(config: Path) -> None:
    run(config, "orgs", "create", "lg")
    code, _, err = run(config, "orgs", "create", "lg")
    assert code == 1 and "already exists" in err


def test_bad_config_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("server:\n  port: -1\n")
    code, _, err = run(path, "orgs", "list")
    assert code == 1 and "server.port" in err and "Traceback" not in err


def test_usage_json_has_the_totals(config: Path) -> None:
    run(config, "orgs", "create", "toss")
    code, out, _ = run(config, "usage", "--org", "toss", "--month", "2026-11", "--json")
    data = json.loads(out)
    assert code == 0
    assert {"requests", "prompt_tokens", "completion_tokens", "total_tokens", "by_model"} <= set(data)
    assert data["requests"] == 0 and data["by_model"] == []


def test_backends_list_probes_live(config: Path) -> None:
    code, out, _ = run(config, "backends", "list", "--json")
    assert code == 0
    assert json.loads(out) == [
        {
            "name": "nowhere",
            "kind": "openai",
            "target": "http://127.0.0.1:9/v1",
            "models": ["m1", "m2"],
            "jurisdiction": "KR",  # none declared: the gateway's own
            "operator": None,
            "reachable": False,
            "problem": None,
            # No server runs for this config: what it would report is null, never an error.
            "in_flight": None,
            "queued": None,
            "queues": None,
        }
    ]


def test_db_upgrade_and_current(config: Path) -> None:
    code, out, _ = run(config, "db", "upgrade")
    assert code == 0 and "is at" in out
    code, out, _ = run(config, "db", "current", "--json")
    assert json.loads(out)["at_head"] is True


def test_db_backup_copies_sqlite_consistently_and_never_overwrites(config: Path, tmp_path: Path) -> None:
    run(config, "orgs", "create", "acme")
    code, out, _ = run(config, "keys", "create", "--org", "acme", "--json")
    assert code == 0
    target = tmp_path / "backup" / "onshore.db"
    target.parent.mkdir()
    code, out, _ = run(config, "db", "backup", "--to", str(target))
    assert code == 0 and "copied to" in out
    assert target.stat().st_mode & 0o777 == 0o600
    with sqlite3.connect(target) as copy:
        assert copy.execute("select name from organisations").fetchall() == [("acme",)]
    code, _, err = run(config, "db", "backup", "--to", str(target))
    assert code == 1 and "exists" in err


def test_db_backup_refuses_postgresql_and_names_the_tool(tmp_path: Path) -> None:
    path = tmp_path / "onshore.yaml"
    path.write_text(f"data_dir: {tmp_path}\ndatabase: {{url: 'postgresql://nobody@127.0.0.1:9/x'}}\n")
    code, _, err = run(path, "db", "backup", "--to", str(tmp_path / "copy.db"))
    assert code == 1 and "pg_dump" in err


def test_init_writes_a_config_that_loads(tmp_path: Path) -> None:
    target = tmp_path / "new.yaml"
    result = CliRunner().invoke(
        cli,
        ["init", "--config", str(target), "--org", "demo", "--json", "--port", "8099"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["key"].startswith("sk-onshore-") and "all-minilm-l6-v2" in data["models"]
    # Run again (the README's install-and-start command twice): kept, exit 0 (issue 15).
    again = CliRunner().invoke(cli, ["init", "--config", str(target)])
    assert again.exit_code == 0 and f"kept config {target}" in again.stdout
