"""Operator defects found from outside (issue 15; issue 13 item 9), driven through the CLI."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from onshore.cli.main import cli


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory, no ONSHORE_ variables, and a private XDG data home."""
    for name in list(os.environ):
        if name.startswith("ONSHORE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _write_config(work: Path) -> Path:
    path = work / "onshore.yaml"
    path.write_text(f"data_dir: {work / 'onshore-data'}\nbackends: []\n")
    return path


def test_commands_find_the_onshore_yaml_init_wrote(workdir: Path) -> None:
    _write_config(workdir)
    code, out, err = run("orgs", "create", "kakao", "--json")
    assert code == 0, err
    assert (workdir / "onshore-data" / "onshore.db").exists()
    assert not (workdir.parent / "xdg" / "onshore").exists()  # not the default database
    code, out, _ = run("orgs", "list", "--json", "--config", str(workdir / "onshore.yaml"))
    assert [o["name"] for o in json.loads(out)] == ["kakao"]


def test_without_a_config_the_command_says_which_database(workdir: Path) -> None:
    (workdir.parent / "onshore.yaml").write_text(f"data_dir: {workdir.parent / 'elsewhere'}\n")
    code, out, err = run("orgs", "list", "--json")
    assert code == 0 and json.loads(out) == []  # stdout stays one JSON document
    assert "built-in defaults" in err and str(workdir.parent / "xdg" / "onshore" / "onshore.db") in err
    assert f"--config {workdir.parent / 'onshore.yaml'}" in err  # the hint to the file above
    # An explicit config is the obvious one: nothing to say.
    config = _write_config(workdir)
    code, _, err = run("orgs", "list", "--config", str(config))
    assert code == 0 and err == ""


def test_init_twice_keeps_everything_and_exits_0(workdir: Path) -> None:
    code, out, err = run("init", "--json")
    assert code == 0, err
    first = json.loads(out)
    assert first["key"].startswith("sk-onshore-")
    config_text = (workdir / "onshore.yaml").read_text()
    code, out, err = run("init", "--json")
    assert code == 0, err
    second = json.loads(out)
    assert second["key"] is None and "config onshore.yaml" in second["kept"]
    assert (workdir / "onshore.yaml").read_text() == config_text
    code, out, _ = run("keys", "list", "--org", "demo", "--json")
    assert [k["id"] for k in json.loads(out)] == [first["key_id"]]  # no second key
    code, out, _ = run("init")
    assert code == 0 and "kept organisation 'demo'" in out and "No new key" in out
    code, out, _ = run("init", "--new-key", "--json")
    assert code == 0 and json.loads(out)["key"].startswith("sk-onshore-")


def test_init_creates_private_files(workdir: Path) -> None:
    assert run("init")[0] == 0
    data = workdir / "onshore-data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for name in ("onshore.db", "secret.key"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name
    assert (data / ".gitignore").read_text().strip() == "*"


@pytest.mark.parametrize("duration", ["99999999d", "3651d", "9" * 400 + "d"])
def test_a_huge_duration_is_one_line(workdir: Path, duration: str) -> None:
    _write_config(workdir)
    run("orgs", "create", "kakao")
    code, _, err = run("keys", "create", "--org", "kakao", "--expires-in", duration)
    assert code == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "too long" in err or "invalid duration" in err


def test_a_misspelt_variable_stops_every_command(workdir: Path) -> None:
    _write_config(workdir)
    code, _, err = run("orgs", "list", env={"ONSHORE_DATABSE__URL": "sqlite:///x.db"})
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "ONSHORE_DATABSE__URL" in err and "did you mean ONSHORE_DATABASE__URL?" in err


def test_a_backend_without_its_key_is_shown(workdir: Path) -> None:
    (workdir / "onshore.yaml").write_text(
        f"data_dir: {workdir / 'd'}\n"
        "backends:\n"
        "  - {name: pool-a, url: 'http://127.0.0.1:9/v1', api_key_env: POOL_A_KEY_UNSET,"
        " models: [{name: m}], timeouts: {connect_s: 0.5}}\n"
    )
    code, out, _ = run("backends", "list", "--json")
    assert code == 0
    [row] = json.loads(out)
    assert row["problem"] == "api_key_env names POOL_A_KEY_UNSET, which is not set"
    code, out, err = run("backends", "list")
    assert "POOL_A_KEY_UNSET" in out and "warning" in err


def test_a_database_that_cannot_be_opened_is_one_line(workdir: Path) -> None:
    (workdir / "onshore.yaml").write_text(
        f"data_dir: {workdir / 'd'}\ndatabase: {{url: 'sqlite:////proc/no-such-dir/onshore.db'}}\n"
    )
    code, _, err = run("orgs", "list")
    assert code == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "database" in err


def test_a_file_problem_is_one_line(workdir: Path) -> None:
    code, _, err = run("init", "--config", str(workdir / "no-such-dir" / "onshore.yaml"))
    assert code == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1
