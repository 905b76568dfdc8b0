"""``onshore orgs|keys ... --jurisdictions``, ``onshore policy`` and ``onshore residency report``:
the public flags, --json documents, tables, exit codes and one-line errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from onshore.cli.main import cli
from onshore.domain.usage import UsageRecord
from onshore.store.sql import SqlAuditLog, SqlUsageStore, make_engine


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "onshore.yaml"
    path.write_text(f"data_dir: {tmp_path / 'data'}\nbackends: []\nserver: {{jurisdiction: KR}}\n")
    return path


def run(config: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [*args, "--config", str(config)], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def run_json(config: Path, *args: str) -> dict[str, object]:
    code, out, err = run(config, *args, "--json")
    assert code == 0, err
    data: dict[str, object] = json.loads(out)
    return data


@pytest.fixture
def key_id(config: Path) -> str:
    data = run_json(config, "orgs", "create", "acme", "--jurisdictions", "kr,JP")
    assert data["name"] == "acme" and data["jurisdictions"] == ["JP", "KR"]
    return str(run_json(config, "keys", "create", "--org", "acme")["id"])


def test_an_organisation_and_a_narrower_key(config: Path, key_id: str) -> None:
    created = run_json(config, "keys", "create", "--org", "acme", "--jurisdictions", "JP")
    assert created["jurisdictions"] == ["JP"] and str(created["key"]).startswith("sk-")

    shown = run_json(config, "policy", "show", "--key", str(created["id"]))
    assert shown["jurisdictions"] == ["JP"]
    assert shown["effective"] == {
        "jurisdictions": ["JP"],
        "pii": "off",
        "pii_types": None,
        "restore": False,
        "redact_output": False,
    }

    code, out, _ = run(config, "orgs", "create", "plain")
    assert code == 0 and "KR (the gateway's own)" in out


def test_a_key_wider_than_its_organisation_exits_1_naming_both_sets(config: Path, key_id: str) -> None:
    code, out, err = run(config, "keys", "create", "--org", "acme", "--jurisdictions", "KR,US")
    assert code == 1 and out == ""
    assert "KR,US" in err and "JP,KR" in err and "Traceback" not in err
    code, _, err = run(config, "policy", "set", "--key", key_id, "--jurisdictions", "US")
    assert code == 1 and "US" in err and "JP,KR" in err


def test_orgs_set_narrows_and_is_audited(config: Path, key_id: str, tmp_path: Path) -> None:
    data = run_json(config, "orgs", "set", "acme", "--jurisdictions", "KR")
    assert data["object"] == "policy" and data["jurisdictions"] == ["KR"]
    code, out, _ = run(config, "orgs", "set", "acme", "--jurisdictions", "KR,JP")
    assert code == 0 and "JP,KR" in out

    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'onshore.db'}")
    try:
        entries = SqlAuditLog(engine).list(action="org.jurisdictions")
    finally:
        engine.dispose()
    assert [dict(e.detail) for e in entries] == [
        {"from": ["KR"], "to": ["JP", "KR"]},
        {"from": ["JP", "KR"], "to": ["KR"]},
    ]
    assert entries[0].actor.startswith("cli")


def test_policy_set_and_show(config: Path, key_id: str) -> None:
    data = run_json(
        config,
        "policy",
        "set",
        "--org",
        "acme",
        "--pii",
        "redact",
        "--pii-types",
        "kr_rrn,KR_PHONE",
        "--restore",
    )
    assert (data["pii"], data["pii_types"], data["restore"], data["redact_output"]) == (
        "redact",
        ["KR_PHONE", "KR_RRN"],
        True,
        None,
    )
    assert run_json(config, "policy", "show", "--org", "acme") == data

    run_json(config, "policy", "set", "--key", key_id, "--pii", "block", "--redact-output")
    key = run_json(config, "policy", "show", "--key", key_id)
    assert key["org_policy"] == {
        "jurisdictions": ["JP", "KR"],
        "pii": "redact",
        "pii_types": ["KR_PHONE", "KR_RRN"],
        "restore": True,
        "redact_output": None,
    }
    assert key["effective"] == {
        "jurisdictions": ["JP", "KR"],
        "pii": "block",
        "pii_types": None,
        "restore": False,
        "redact_output": True,
    }

    code, out, _ = run(config, "policy", "show", "--key", key_id)
    assert code == 0 and "EFFECTIVE" in out and "ORGANISATION" in out and "block" in out and "all" in out
    code, out, _ = run(config, "policy", "show", "--org", "acme")
    assert code == 0 and "organisation acme" in out and "KR_PHONE,KR_RRN" in out


def test_policy_clear(config: Path, key_id: str) -> None:
    run_json(config, "policy", "set", "--key", key_id, "--pii", "detect", "--jurisdictions", "KR")
    data = run_json(config, "policy", "clear", "--key", key_id, "--pii")
    assert data["pii"] is None and data["jurisdictions"] == ["KR"]
    data = run_json(config, "policy", "clear", "--key", key_id)
    assert data["jurisdictions"] is None and data["effective"]["jurisdictions"] == ["JP", "KR"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("policy", "set", "--org", "acme", "--key", "k", "--pii", "off"), 2, "exactly one of --org"),
        (("policy", "show"), 2, "exactly one of --org"),
        (("policy", "set", "--org", "acme"), 2, "at least one setting"),
        (("policy", "set", "--org", "acme", "--pii", "scrub"), 2, "'scrub' is not one of"),
        (("policy", "set", "--org", "acme", "--pii-types", "KR_NOPE"), 2, "unknown personal-data type"),
        (("policy", "set", "--org", "acme", "--jurisdictions", "Korea"), 2, "not a jurisdiction"),
        (("orgs", "create", "beta", "--jurisdictions", "K1"), 2, "not a jurisdiction"),
        (("orgs", "set", "acme"), 2, "--jurisdictions"),
        (("keys", "create", "--org", "acme", "--jurisdictions", ""), 2, "'' is not a jurisdiction"),
        (("policy", "set", "--org", "acme", "--pii", "block", "--restore"), 1, "needs pii redact"),
        (("policy", "set", "--org", "acme", "--restore"), 1, "needs a personal-data mode"),
        (("policy", "set", "--org", "nobody", "--pii", "off"), 1, "no organisation named 'nobody'"),
        (("policy", "show", "--key", "key_nope"), 1, "no key with id 'key_nope'"),
        (("orgs", "set", "nobody", "--jurisdictions", "KR"), 1, "no organisation named 'nobody'"),
        (("residency", "report", "--org", "acme", "--month", "11-2026"), 2, "YYYY-MM"),
        (("residency", "report", "--org", "nobody", "--month", "2026-11"), 1, "no organisation named"),
        (("residency", "report", "--org", "acme"), 2, "--month"),
    ],
)
def test_mistakes_are_one_line_errors(
    config: Path, key_id: str, args: tuple[str, ...], code: int, message: str
) -> None:
    got, out, err = run(config, *args)
    assert got == code and message in err and "Traceback" not in err
    assert out == ""


def test_the_residency_report(config: Path, key_id: str, tmp_path: Path) -> None:
    org_id = str(run_json(config, "policy", "show", "--org", "acme")["org_id"])
    at = datetime(2026, 11, 15, tzinfo=UTC)
    rows = [
        UsageRecord(f"r{i}", at, org_id, key_id, "chat.completions", "llama", backend, status, False, **extra)
        for i, (backend, status, extra) in enumerate(
            [
                (
                    "kr-a",
                    200,
                    {"jurisdiction": "KR", "prompt_tokens": 10, "total_tokens": 10, "cost_micro_krw": 1500},
                ),
                ("jp-a", 200, {"jurisdiction": "JP", "prompt_tokens": 3, "total_tokens": 3}),
                (None, 403, {"error_code": "residency_unavailable"}),
                (None, 429, {"error_code": "rate_limit_exceeded"}),
            ]
        )
    ]
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'onshore.db'}")
    try:
        SqlUsageStore(engine).write_batch(rows)
    finally:
        engine.dispose()

    data = run_json(config, "residency", "report", "--org", "acme", "--month", "2026-11")
    assert (data["requests"], data["served_requests"], data["not_routed_requests"]) == (4, 2, 2)
    assert data["jurisdictions"] == ["JP", "KR"] and data["total_tokens"] == 13
    assert [(s["jurisdiction"], s["backend"], s["requests"]) for s in data["served"]] == [  # type: ignore[attr-defined]
        ("JP", "jp-a", 1),
        ("KR", "kr-a", 1),
    ]
    assert data["refusals"] == [{"status": 403, "error_code": "residency_unavailable", "requests": 1}]

    code, out, _ = run(config, "residency", "report", "--org", "acme", "--month", "2026-11")
    assert code == 0 and "kr-a" in out and "residency_unavailable" in out and "₩0.00" in out
    empty = run_json(config, "residency", "report", "--org", "acme", "--month", "2026-10")
    assert empty["requests"] == 0 and empty["served"] == [] and empty["refusals"] == []
