"""``onshore limits`` and ``onshore prices``: the public flags, --json documents, one-line errors,
and the cost column of ``onshore usage``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from onshore.cli.main import cli
from onshore.domain.usage import UsageRecord
from onshore.store.sql import SqlUsageStore, make_engine


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "onshore.yaml"
    path.write_text(
        f"data_dir: {tmp_path / 'data'}\n"
        "backends: []\n"
        "prices:\n"
        "  - {model: llama, input_krw: 100, output_krw: 200}\n"
    )
    return path


def run(config: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [*args, "--config", str(config)], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def key_id(config: Path) -> str:
    assert run(config, "orgs", "create", "acme")[0] == 0
    code, out, _ = run(config, "keys", "create", "--org", "acme", "--json")
    assert code == 0
    return str(json.loads(out)["id"])


def test_set_show_and_clear_an_organisation(config: Path, key_id: str) -> None:
    code, out, _ = run(
        config,
        "limits",
        "set",
        "--org",
        "acme",
        "--rpm",
        "60",
        "--tpm",
        "100000",
        "--max-concurrent",
        "8",
        "--monthly-tokens",
        "5000000",
        "--monthly-budget-krw",
        "1000000",
        "--tier",
        "priority",
        "--json",
    )
    assert code == 0
    assert json.loads(out)["limits"] == {
        "rpm": 60,
        "tpm": 100000,
        "max_concurrent": 8,
        "monthly_tokens": 5000000,
        "monthly_budget_krw": 1000000,
        "tier": "priority",
    }

    code, out, _ = run(config, "limits", "clear", "--org", "acme", "--tpm", "--tier", "--json")
    assert code == 0
    limits = json.loads(out)["limits"]
    assert limits["tpm"] is None and limits["tier"] is None and limits["rpm"] == 60

    code, out, _ = run(config, "limits", "show", "--org", "acme")
    assert code == 0 and "organisation acme" in out and "60" in out and "1,000,000" in out

    assert run(config, "limits", "clear", "--org", "acme")[0] == 0
    code, out, _ = run(config, "limits", "show", "--org", "acme", "--json")
    assert set(json.loads(out)["limits"].values()) == {None}


def test_a_keys_show_has_the_effective_limits(config: Path, key_id: str) -> None:
    run(config, "limits", "set", "--org", "acme", "--rpm", "60", "--tier", "batch")
    code, _, _ = run(config, "limits", "set", "--key", key_id, "--rpm", "10", "--tpm", "50")
    assert code == 0

    code, out, _ = run(config, "limits", "show", "--key", key_id, "--json")
    data = json.loads(out)
    assert code == 0 and data["scope"] == "key" and data["key_id"] == key_id and data["org"] == "acme"
    assert data["effective"]["rpm"] == 10 and data["effective"]["tier"] == "batch"

    code, out, _ = run(config, "limits", "show", "--key", key_id)
    assert code == 0 and "EFFECTIVE" in out and "batch" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("limits", "set", "--org", "acme", "--key", "k", "--rpm", "1"), "exactly one of --org"),
        (("limits", "set", "--rpm", "1"), "exactly one of --org"),
        (("limits", "set", "--org", "acme"), "at least one limit"),
        (("limits", "set", "--org", "nobody", "--rpm", "1"), "no organisation named 'nobody'"),
        (("limits", "show", "--key", "key_nope"), "no key with id 'key_nope'"),
        (("limits", "set", "--org", "acme", "--rpm", "-5"), "rpm must be a whole number"),
        (("limits", "set", "--org", "acme", "--tier", "gold"), "'gold' is not one of"),
        (("prices", "set", "--model", "m", "--input", "x", "--output", "1"), "input_krw must be a number"),
        (("prices", "set", "--model", "m", "--input", "1", "--output", "1", "--from", "nov"), "YYYY-MM-DD"),
    ],
)
def test_mistakes_are_one_line_errors(config: Path, key_id: str, args: tuple[str, ...], message: str) -> None:
    code, out, err = run(config, *args)
    assert code != 0 and message in err and "Traceback" not in err
    assert out == ""


def test_a_key_above_its_organisation_is_refused(config: Path, key_id: str) -> None:
    run(config, "limits", "set", "--org", "acme", "--monthly-budget-krw", "1000")
    code, _, err = run(config, "limits", "set", "--key", key_id, "--monthly-budget-krw", "2000")
    assert code == 1 and "2000" in err and "1000" in err
    code, _, err = run(config, "limits", "set", "--key", key_id, "--tier", "priority")
    assert code == 1 and "organisation, not on a key" in err


def test_prices_set_and_list(config: Path) -> None:
    code, out, _ = run(
        config,
        "prices",
        "set",
        "--model",
        "llama",
        "--input",
        "1500.5",
        "--output",
        "3000",
        "--cached-input",
        "750",
        "--from",
        "2000-01-01",
        "--json",
    )
    assert code == 0
    assert json.loads(out) == {
        "object": "price",
        "model": "llama",
        "effective_from": "2000-01-01",
        "input_krw": 1500.5,
        "cached_input_krw": 750,
        "output_krw": 3000,
    }
    assert run(config, "prices", "set", "--model", "qwen", "--input", "1", "--output", "2")[0] == 0

    code, out, _ = run(config, "prices", "list", "--json")
    listed = json.loads(out)
    assert code == 0
    # The stored llama price replaced the config's for the same day (2000-01-01, the config default).
    assert [(p["model"], p["source"], p["input_krw"], p["in_force"]) for p in listed] == [
        ("llama", "store", 1500.5, True),
        ("qwen", "store", 1, True),
    ]

    code, out, _ = run(config, "prices", "list")
    assert code == 0 and "1,500.5" in out and "store" in out


def test_prices_list_shows_config_prices(config: Path) -> None:
    code, out, _ = run(config, "prices", "list", "--json")
    assert code == 0
    assert [(p["model"], p["source"], p["output_krw"]) for p in json.loads(out)] == [("llama", "config", 200)]


def test_usage_shows_cost(config: Path, tmp_path: Path) -> None:
    code, out, _ = run(config, "orgs", "create", "acme", "--json")
    org_id = json.loads(out)["id"]
    at = datetime(2026, 11, 15, tzinfo=UTC)
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'onshore.db'}")
    try:
        SqlUsageStore(engine).write_batch(
            [
                UsageRecord(
                    request_id=f"r{n}",
                    created_at=at,
                    org_id=org_id,
                    key_id="k",
                    endpoint="chat.completions",
                    model="llama",
                    backend="b",
                    status=200,
                    streamed=False,
                    prompt_tokens=10,
                    completion_tokens=10,
                    total_tokens=20,
                    cost_micro_krw=617_280_000 + n,
                )
                for n in range(2)
            ]
        )
    finally:
        engine.dispose()

    code, out, _ = run(config, "usage", "--org", "acme", "--month", "2026-11", "--json")
    data = json.loads(out)
    assert code == 0
    assert data["cost_micro_krw"] == 1_234_560_001 and data["cost_krw"] == 1234.560001
    assert data["by_model"][0]["cost_krw"] == 1234.560001

    code, out, _ = run(config, "usage", "--org", "acme", "--month", "2026-11")
    assert code == 0 and "₩1,234.56" in out and "COST" in out
