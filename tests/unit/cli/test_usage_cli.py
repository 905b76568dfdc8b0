"""``onshore usage``: the totals and the rows add up, and refused requests never look like usage.

Found from outside (issue 15): totals counted requests that had no model while ``by_model`` did
not, and a model name a partner typed appeared as a billing row.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from onshore.cli.main import cli
from onshore.domain.usage import UsageRecord
from onshore.store.sql import SqlUsageStore, make_engine

MONTH = "2026-11"
AT = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "onshore.yaml"
    path.write_text(f"data_dir: {tmp_path / 'data'}\nbackends: []\n")
    return path


def run(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*args, "--config", str(config)], catch_exceptions=False)
    return result.exit_code, result.stdout


def row(
    request_id: str, org_id: str, model: str | None, status: int, tokens: int, code: str | None = None
) -> UsageRecord:
    return UsageRecord(
        request_id=request_id,
        created_at=AT,
        org_id=org_id,
        key_id="key",
        endpoint="chat.completions",
        model=model,
        backend="pool" if status < 400 else None,
        status=status,
        streamed=False,
        prompt_tokens=tokens,
        completion_tokens=tokens,
        total_tokens=2 * tokens,
        error_code=code,
    )


def test_usage_totals_and_rows_add_up(config: Path, tmp_path: Path) -> None:
    code, out = run(config, "orgs", "create", "acme", "--json")
    assert code == 0
    org_id = json.loads(out)["id"]
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'onshore.db'}")
    try:
        SqlUsageStore(engine).write_batch(
            [
                row("a", org_id, "llama", 200, 5),
                row("b", org_id, "llama", 200, 7),
                row("c", org_id, "typo-model", 404, 0, "model_not_found"),
                row("d", org_id, None, 400, 0, "invalid_request"),
                row("e", org_id, "llama", 502, 0, "upstream_error"),
            ]
        )
    finally:
        engine.dispose()

    code, out = run(config, "usage", "--org", "acme", "--month", MONTH, "--json")
    data = json.loads(out)

    assert code == 0
    assert [m["model"] for m in data["by_model"]] == ["llama"]  # the typo is not a billing row
    assert data["requests"] == 5 and data["failed_requests"] == 3
    assert data["billable_requests"] == sum(m["requests"] for m in data["by_model"]) == 2
    assert data["rejected_requests"] == sum(r["requests"] for r in data["rejected"]) == 3
    assert data["requests"] == data["billable_requests"] + data["rejected_requests"]
    assert data["total_tokens"] == sum(m["total_tokens"] for m in data["by_model"]) == 24
    assert {"status": 404, "error_code": "model_not_found", "requests": 1} in data["rejected"]

    code, text = run(config, "usage", "--org", "acme", "--month", MONTH)
    assert code == 0
    assert "billable requests 2, requests without billable usage 3" in text
    assert "model_not_found" in text and "typo-model" not in text
