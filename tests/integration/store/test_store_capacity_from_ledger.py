"""``--from-ledger`` on a ledger this test generates, on SQLite and PostgreSQL: the plan reproduces the
demand that generated it, per organisation and tier, with batch work kept out of the peak.

The ledger: in the peak hour a priority organisation (``acme``) and a standard one (``press``) send
interactive chat traffic with log-normal prompt and answer lengths of known means and spreads; a
batch-tier organisation (``bulk``) sends more requests than both in another hour, and ``press``
sends Batch API requests (``batch_id`` set) in the peak hour itself. Neither batch kind may raise
the peak's arrival rate; both must appear in the batch check. The search space is one GPU
configuration (H100, TP 1, FP8), so a plan takes seconds.
"""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from onshore.admin.capacity import CapacityOptions, plan_capacity
from onshore.admin.capacity_report import capacity_json
from onshore.bootstrap import open_store
from onshore.cli.common import load
from onshore.cli.main import cli
from onshore.domain.usage import UsageRecord
from onshore.store.sql import SqlUsageStore, make_engine

PEAK = datetime(2026, 10, 14, 9, 0, tzinfo=UTC)
PRIORITY_SLO = (1500.0, 50.0)  # planner.tier_slos.priority
STANDARD_SLO = (2000.0, 80.0)  # the planner section's own targets: the standard tier's
# org -> (tier, requests in the peak hour, prompt mean, prompt sigma, answer mean, answer sigma)
INTERACTIVE = {
    "acme": ("priority", 1440, 800.0, 0.6, 200.0, 0.5),
    "press": ("standard", 720, 400.0, 0.4, 100.0, 0.3),
}
BULK_REQUESTS = 3000  # batch tier, at PEAK + 2 h: more than the peak's interactive requests
BATCH_API_REQUESTS = 2000  # press, Batch API, in the peak hour itself
SEARCH = {"gpus": ["h100"], "tensor_parallel": [1], "precisions": ["fp8"]}


def lognormal(rng: random.Random, mean: float, sigma: float) -> int:
    """A count whose distribution has arithmetic mean ``mean`` and log-sd ``sigma``."""
    return max(1, round(rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma)))


def row(n: int, org: str, when: datetime, prompt: int, answer: int, batch: str | None = None) -> UsageRecord:
    return UsageRecord(
        request_id=f"r{n}",
        created_at=when,
        org_id=org,
        key_id="key",
        endpoint="chat.completions",
        model="chat",
        backend="b",
        status=200,
        streamed=batch is None,
        prompt_tokens=prompt,
        completion_tokens=answer,
        total_tokens=prompt + answer,
        batch_id=batch,
    )


def cli_json(config: Path, *args: str) -> Any:
    out = CliRunner().invoke(cli, [*args, "--config", str(config), "--json"])
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout)


@pytest.fixture
def ledger(database_url: str, tmp_path: Path) -> tuple[Path, dict[str, list[UsageRecord]]]:
    """The config, and the generated interactive peak-hour rows per organisation."""
    config = tmp_path / "onshore.yaml"
    planner = {
        "models": {"chat": "llama-3.1-8b"},
        "ttft_p99_ms": STANDARD_SLO[0],
        "tpot_p99_ms": STANDARD_SLO[1],
        "tier_slos": {"priority": {"ttft_p99_ms": PRIORITY_SLO[0], "tpot_p99_ms": PRIORITY_SLO[1]}},
        **SEARCH,
    }
    config.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(tmp_path / "data"),
                "database": {"url": database_url},
                "backends": [],
                "planner": planner,
            }
        ),
        encoding="utf-8",
    )
    ids = {name: cli_json(config, "orgs", "create", name)["id"] for name in ("acme", "press", "bulk")}
    cli_json(config, "limits", "set", "--org", "acme", "--tier", "priority")
    cli_json(config, "limits", "set", "--org", "bulk", "--tier", "batch")
    rng = random.Random(14)
    rows: list[UsageRecord] = []
    peak_rows: dict[str, list[UsageRecord]] = {}
    for name, (_, count, p_mean, p_sigma, a_mean, a_sigma) in INTERACTIVE.items():
        for hour, n in (
            (PEAK, count),
            (PEAK - timedelta(hours=1), count // 4),
            (PEAK + timedelta(days=1), 50),
        ):
            for i in range(n):
                when = hour + timedelta(seconds=i * 3600 / n)
                r = row(
                    len(rows),
                    ids[name],
                    when,
                    lognormal(rng, p_mean, p_sigma),
                    lognormal(rng, a_mean, a_sigma),
                )
                rows.append(r)
                if hour == PEAK:
                    peak_rows.setdefault(name, []).append(r)
    for i in range(BULK_REQUESTS):
        when = PEAK + timedelta(hours=2, seconds=i)
        rows.append(row(len(rows), ids["bulk"], when, lognormal(rng, 1500, 0.5), lognormal(rng, 300, 0.5)))
    for i in range(BATCH_API_REQUESTS):
        when = PEAK + timedelta(seconds=i)
        rows.append(row(len(rows), ids["press"], when, 1000, 250, batch="batch_1"))
    engine = make_engine(database_url)
    try:
        SqlUsageStore(engine).write_batch(rows)
    finally:
        engine.dispose()
    return config, peak_rows


def check_reproduced(
    model: dict[str, Any], peak: dict[str, Any], peak_rows: dict[str, list[UsageRecord]]
) -> None:
    """The plan's JSON against the generated rows (exactly) and their distributions (within sampling)."""
    interactive = sum(len(r) for r in peak_rows.values())
    assert peak["hour"] == PEAK.isoformat() and peak["requests"] == interactive  # no batch work in it
    assert model["sizing"]["demand"]["peak_rps"] == pytest.approx(interactive / 3600)
    orgs = {o["org"]: o for o in model["orgs_at_peak"]}
    assert set(orgs) == set(peak_rows)
    for name, (tier, count, p_mean, p_sigma, a_mean, a_sigma) in INTERACTIVE.items():
        got, generated = orgs[name], peak_rows[name]
        assert got["tier"] == tier and got["requests"] == count
        assert got["requests_per_s"] == pytest.approx(count / 3600)
        assert got["prompt_mean"] == pytest.approx(sum(r.prompt_tokens for r in generated) / count)
        assert got["completion_mean"] == pytest.approx(sum(r.completion_tokens for r in generated) / count)
        # And the distributions the rows were drawn from, within sampling error (~4 standard errors).
        assert got["prompt_mean"] == pytest.approx(p_mean, rel=0.08)
        assert got["completion_mean"] == pytest.approx(a_mean, rel=0.08)
        assert got["prompt_log_sigma"] == pytest.approx(p_sigma, abs=0.06)
        assert got["completion_log_sigma"] == pytest.approx(a_sigma, abs=0.06)
    # Priority traffic at the peak: its stricter SLO binds the whole model's fleet.
    assert (model["slo"]["ttft_p99_ms"], model["slo"]["tpot_p99_ms"]) == PRIORITY_SLO
    assert model["slo_tiers"] == ["priority"]
    assert model["sizing"]["slo"]["tpot_p99_ms"] == PRIORITY_SLO[1]
    assert model["batch_requests"] == BULK_REQUESTS + BATCH_API_REQUESTS
    batch = model["batch"]
    assert batch["day"] == PEAK.replace(hour=0).isoformat()
    assert batch["fits"] and batch["extra_replicas"] == 0 and "fit in the spare capacity" in batch["summary"]


def test_plan_capacity_reproduces_the_generated_demand(
    ledger: tuple[Path, dict[str, list[UsageRecord]]],
) -> None:
    config, peak_rows = ledger
    settings = load(str(config))
    store = open_store(settings)
    try:
        plan = plan_capacity(store, month="2026-10", options=CapacityOptions.from_settings(settings))
    finally:
        store.close()
    data = capacity_json(plan)
    (chat,) = data["models"]
    check_reproduced(chat, data["peak"], peak_rows)
    assert plan.batch_requests == BULK_REQUESTS + BATCH_API_REQUESTS
    assert "batch requests kept out of the peak" in plan.message
    assert "acme" in plan.html and "priority" in plan.html


def test_the_cli_reproduces_it_and_one_standard_organisation_gets_the_standard_slo(
    ledger: tuple[Path, dict[str, list[UsageRecord]]],
) -> None:
    config, peak_rows = ledger
    data = cli_json(config, "plan", "size", "--from-ledger", "--month", "2026-10", "--workers", "1")
    (chat,) = data["models"]
    check_reproduced(chat, data["peak"], peak_rows)
    assert data["batch_requests"] == BULK_REQUESTS + BATCH_API_REQUESTS
    press = cli_json(
        config, "plan", "size", "--from-ledger", "--month", "2026-10", "--org", "press", "--workers", "1"
    )
    (chat,) = press["models"]
    assert [o["org"] for o in chat["orgs_at_peak"]] == ["press"]
    assert chat["sizing"]["demand"]["peak_rps"] == pytest.approx(INTERACTIVE["press"][1] / 3600)
    assert (chat["slo"]["ttft_p99_ms"], chat["slo"]["tpot_p99_ms"]) == STANDARD_SLO
    assert chat["slo_tiers"] == ["standard"] and chat["batch_requests"] == BATCH_API_REQUESTS


def test_the_human_output_names_the_peak_the_organisations_and_the_batch_check(
    ledger: tuple[Path, dict[str, list[UsageRecord]]],
) -> None:
    config, _ = ledger
    args = ["plan", "size", "--from-ledger", "--month", "2026-10", "--workers", "1", "--config", str(config)]
    out = CliRunner().invoke(cli, args)
    assert out.exit_code == 0, out.output
    text = out.stdout
    assert "busiest hour 2026-10-14 09:00 UTC: 2,160 requests" in text
    assert "batch work: 5,000 requests, kept out of the peak" in text
    assert "1,500 / 50 (priority) ms" in text
    assert "│ acme " in text and "│ priority " in text and "0.400" in text  # 1,440 / 3,600 per second
    assert "fit in the spare capacity" in text
