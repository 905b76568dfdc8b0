"""``onshore plan size --from-ledger`` on a SQLite ledger, and what ``--growth`` accepts."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from onshore.cli.main import cli
from onshore.cli.plan_ledger import growth_factor
from onshore.domain.usage import UsageRecord
from onshore.store.sql import SqlUsageStore, make_engine

PEAK = datetime(2026, 10, 14, 9, 0, tzinfo=UTC)
SEARCH = ["--gpus", "h100", "--tp", "1", "--precision", "fp8", "--workers", "1", "--tpot-p99-ms", "80"]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "onshore.yaml"
    path.write_text(
        f"data_dir: {tmp_path / 'data'}\nbackends: []\nplanner:\n  models:\n    chat: llama-3.1-8b\n",
        encoding="utf-8",
    )
    return path


def run(config: Path, *args: str) -> click.testing.Result:
    return CliRunner().invoke(cli, ["plan", "size", "--config", str(config), *args])


def write_ledger(config: Path, tmp_path: Path, org_id: str | None = None, batch: bool = False) -> None:
    """900 chat requests in the busiest hour (prompts 600, answers 150), 90 an hour before it,
    40 embedding requests, and refusals that are not demand; with ``batch``, every row is a Batch
    API request."""
    assert run(config, "--from-ledger", "--month", "2020-01", *SEARCH).exit_code == 0  # creates the db
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'onshore.db'}")
    rows = []
    for i in range(900):
        rows.append(("chat", PEAK + timedelta(seconds=i * 4), 600, 150, 200))
    for i in range(90):
        rows.append(("chat", PEAK - timedelta(hours=1) + timedelta(seconds=i * 40), 300, 100, 200))
    for i in range(40):
        rows.append(("all-minilm-l6-v2", PEAK + timedelta(seconds=i * 90), 20, 0, 200))
    for i in range(500):
        rows.append(("chat", PEAK + timedelta(hours=3, seconds=i), 0, 0, 429))
    try:
        SqlUsageStore(engine).write_batch(
            [
                UsageRecord(
                    request_id=f"r{n}",
                    created_at=when,
                    org_id=org_id or "org_x",
                    key_id="key",
                    endpoint="chat.completions",
                    model=model,
                    backend="b" if status == 200 else None,
                    status=status,
                    streamed=n % 2 == 0,
                    prompt_tokens=p,
                    completion_tokens=c,
                    total_tokens=p + c,
                    batch_id="batch_1" if batch else None,
                )
                for n, (model, when, p, c, status) in enumerate(rows)
            ]
        )
    finally:
        engine.dispose()


def test_size_from_the_ledger(config: Path, tmp_path: Path) -> None:
    write_ledger(config, tmp_path)
    out = run(config, "--from-ledger", "--month", "2026-10", "--growth", "20%", "--json", *SEARCH)
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["month"] == "2026-10" and data["growth_percent"] == pytest.approx(20)
    assert data["peak"]["hour"] == PEAK.isoformat() and data["peak"]["requests"] == 940
    assert data["requests"] == 1030  # the 429s are not demand
    chat, embed = data["models"]
    assert chat["served"] == "chat" and chat["planner_model"] == "llama-3.1-8b"
    demand = chat["sizing"]["demand"]
    assert demand["peak_rps"] == pytest.approx(900 / 3600 * 1.2)
    assert demand["prompt"]["mean"] == pytest.approx(600) and demand["output"]["mean"] == pytest.approx(150)
    assert chat["sizing"]["best"]["cost"]["gpus"] >= 1
    assert (
        embed["served"] == "all-minilm-l6-v2" and embed["sizing"] is None and embed["planner_model"] is None
    )
    assert "planner.models" in embed["matched_by"]


def test_the_human_output_and_the_report(config: Path, tmp_path: Path) -> None:
    write_ledger(config, tmp_path)
    report = tmp_path / "rep"
    out = run(
        config, "--from-ledger", "--month", "2026-10", "--growth", "x2", "--report", str(report), *SEARCH
    )
    assert out.exit_code == 0, out.output
    assert "busiest hour 2026-10-14 09:00 UTC: 940 requests" in out.stdout
    assert "not sized: all-minilm-l6-v2" in out.stdout and "grown by 100 %" in out.stdout
    page = (report / "capacity.html").read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and page.count("<svg") == 3
    assert json.loads((report / "capacity.json").read_text(encoding="utf-8"))["peak"]["requests"] == 940
    assert (report / "chat" / "report.md").exists() and (report / "chat" / "fleet.svg").exists()


def test_one_organisation_and_an_empty_month(config: Path, tmp_path: Path) -> None:
    code = CliRunner().invoke(cli, ["orgs", "create", "acme", "--json", "--config", str(config)])
    assert code.exit_code == 0, code.output
    write_ledger(config, tmp_path, org_id=json.loads(code.stdout)["id"])
    out = run(
        config,
        "--from-ledger",
        "--month",
        "2026-10",
        "--org",
        "acme",
        "--map",
        "chat=qwen3-32b",
        "--json",
        *SEARCH,
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["org"] == "acme" and data["models"][0]["planner_model"] == "qwen3-32b"
    empty = run(config, "--from-ledger", "--month", "2026-09", *SEARCH)
    assert empty.exit_code == 0 and "no traffic in 2026-09" in empty.stdout
    nobody = run(config, "--from-ledger", "--month", "2026-10", "--org", "nobody", *SEARCH)
    assert nobody.exit_code == 1 and "no organisation named 'nobody'" in nobody.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from-ledger", "--mau", "5"], "drop --mau"),
        (["--from-ledger", "--model", "llama-3.1-8b"], "drop --model"),
        (["--month", "2026-10"], "--month only apply with --from-ledger"),
        (["--from-ledger", "--month", "2026-13"], "invalid month"),
        (["--from-ledger", "--growth", "0"], "above zero"),
        (["--from-ledger", "--map", "chat"], "SERVED=PLANNER_ID"),
    ],
)
def test_wrong_combinations_are_refused(config: Path, args: list[str], message: str) -> None:
    out = run(config, *args, *SEARCH)
    assert out.exit_code != 0 and message in out.output, out.output


@pytest.mark.parametrize(
    ("text", "factor"),
    [
        ("1.2", 1.2),  # a bare number multiplies, as --growth always has
        ("3", 3.0),
        ("0.5", 0.5),
        ("20%", 1.2),
        ("+20 %", 1.2),
        ("x1.2", 1.2),
        ("1.2x", 1.2),
        ("0%", 1.0),
        ("-25%", 0.75),
        ("x3", 3.0),
        ("200%", 3.0),
    ],
)
def test_growth_forms(text: str, factor: float) -> None:
    assert growth_factor(text) == pytest.approx(factor)


@pytest.mark.parametrize("text", ["0", "-1", "-100%", "x0", "x-2", "twenty", "nan", "inf%", ""])
def test_growth_that_leaves_no_demand_or_is_not_a_number_is_refused(text: str) -> None:
    with pytest.raises(click.BadParameter):
        growth_factor(text)


def test_a_month_of_batch_work_only_is_not_reported_as_an_interactive_peak(
    config: Path, tmp_path: Path
) -> None:
    write_ledger(config, tmp_path, batch=True)
    report = tmp_path / "rep"
    args = ["--from-ledger", "--month", "2026-10", *SEARCH]
    data = json.loads(run(config, *args, "--json").stdout)
    assert data["batch_only"] is True and data["peak"]["kind"] == "batch"
    assert "no interactive traffic" in data["message"]
    chat = data["models"][0]
    assert chat["batch_only"] and chat["sized_for"] == "busiest_day_of_batch_work"
    assert chat["sizing"]["demand"]["peak_rps"] == pytest.approx(990 / 86_400)  # the day's average
    text = run(config, *args, "--report", str(report)).stdout
    assert "no interactive traffic: batch work only (1,030 requests)" in text
    assert "busiest hour of batch work 2026-10-14 09:00 UTC" in text and "\nbusiest hour 2026" not in text
    assert "sized for its busiest day of batch work, 2026-10-14 UTC" in text
    page = (report / "capacity.html").read_text(encoding="utf-8")
    assert "interactive traffic; batch work" not in page and "busiest hour of batch work" in page
    assert "no interactive traffic" in page and "spread evenly over 24 hours" in page
    md = (report / "chat" / "report.md").read_text(encoding="utf-8")
    assert "no interactive traffic" in md


def test_slo_flags_override_every_tier_and_say_so(config: Path, tmp_path: Path) -> None:
    config.write_text(
        config.read_text(encoding="utf-8")
        + "  tier_slos:\n    priority: {ttft_p99_ms: 1500, tpot_p99_ms: 40}\n",
        encoding="utf-8",
    )
    code = CliRunner().invoke(cli, ["orgs", "create", "acme", "--json", "--config", str(config)])
    org_id = json.loads(code.stdout)["id"]
    tier = CliRunner().invoke(
        cli, ["limits", "set", "--org", "acme", "--tier", "priority", "--config", str(config)]
    )
    assert tier.exit_code == 0, tier.output
    write_ledger(config, tmp_path, org_id=org_id)
    base = ["--from-ledger", "--month", "2026-10", *SEARCH[:-2]]  # without --tpot-p99-ms
    configured = json.loads(run(config, *base, "--json").stdout)["models"][0]
    assert configured["slo"] == {"ttft_p99_ms": 1500, "tpot_p99_ms": 40}  # the priority tier's
    assert configured["slo_source"] == {"ttft_p99_ms": "config", "tpot_p99_ms": "config"}
    typed = json.loads(run(config, *base, "--tpot-p99-ms", "80", "--json").stdout)
    chat = typed["models"][0]
    assert chat["slo"] == {"ttft_p99_ms": 1500, "tpot_p99_ms": 80}  # the flag beats the priority tier
    assert chat["sizing"]["slo"]["tpot_p99_ms"] == 80 and chat["slo_tiers"] == ["priority"]
    assert chat["slo_source"] == {"ttft_p99_ms": "config", "tpot_p99_ms": "command line"}
    assert typed["slo_overridden"] == ["tpot_p99_ms"]
    both = run(config, *base, "--ttft-p99-ms", "3000", "--tpot-p99-ms", "90", "--report", str(tmp_path / "r"))
    assert both.exit_code == 0, both.output
    assert "to p99 TTFT / TPOT 3,000 / 90 (command line) ms" in both.stdout
    page = (tmp_path / "r" / "capacity.html").read_text(encoding="utf-8")
    assert "TTFT and TPOT limits came from the command line" in page


def test_disaggregated_pools_from_the_ledger_in_every_form(config: Path, tmp_path: Path) -> None:
    write_ledger(config, tmp_path)
    report = tmp_path / "rep"
    args = ["--from-ledger", "--month", "2026-10", "--disaggregated", *SEARCH]
    data = json.loads(run(config, *args, "--json").stdout)
    chat, embed = data["models"]
    pools = chat["disaggregated"]
    best = pools["best"]
    assert embed["disaggregated"] is None and len(pools["candidates"]) == 1  # h100 fp8, TP1 for each pool
    assert best["feasible"] and best["label"] == "h100 fp8 disagg P:TP1 D:TP1 seqs256"
    # Sized for the model's peak (900 requests in its busiest hour), as the aggregated fleet is.
    peak = chat["sizing"]["demand"]["peak_rps"]
    assert peak == pytest.approx(900 / 3600)
    assert best["prefill_replicas"] >= math.ceil(peak / best["prefill_rate_per_replica"])
    assert best["decode_replicas"] >= math.ceil(peak / best["decode_rate_per_replica"])
    aggregated = chat["sizing"]["best"]["cost"]["annual_cost_krw"]
    assert pools["gain_over_aggregated"] == round(aggregated / best["cost"]["annual_cost_krw"], 4)
    assert data["totals"]["gpus"] == chat["fleet"]["gpus"]  # the totals stay the aggregated fleets
    text = run(config, *args, "--report", str(report)).stdout
    assert f"disaggregated best: {best['label']}: {best['prefill_replicas']} prefill + " in text
    assert "aggregated needs" in text
    page = (report / "capacity.html").read_text(encoding="utf-8")
    assert '<section class="plan-disagg">' in page and "Disaggregated prefill/decode</h4>" in page
    md = (report / "chat" / "report.md").read_text(encoding="utf-8")
    assert "## Disaggregated prefill/decode" in md
    assert (
        json.loads((report / "capacity.json").read_text(encoding="utf-8"))["models"][0]["disaggregated"]
        == pools
    )


def test_a_scenario_file_sets_the_search_space_and_the_slo_under_the_flags(
    config: Path, tmp_path: Path
) -> None:
    write_ledger(config, tmp_path)
    scenario = tmp_path / "plan.yaml"
    scenario.write_text(
        "gpus: [b200]\ntp: [1]\nprecision: [fp4]\nmax_num_seqs: [128]\nttft_p99_ms: 2500\ntpot_p99_ms: 75\n",
        encoding="utf-8",
    )
    # The config searches h100, h200, b200 at fp8 and TP 1-8; the file narrows it, and the TPOT
    # typed beats the file's.
    args = ["--from-ledger", "--month", "2026-10", "--scenario", str(scenario), "--workers", "1"]
    out = run(config, *args, "--tpot-p99-ms", "80", "--json")
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    chat = data["models"][0]
    searched = {
        (c["configuration"]["gpu"], c["configuration"]["tp"], c["configuration"]["precision"])
        for c in chat["sizing"]["candidates"]
    }
    assert searched == {("b200", 1, "fp4")}
    assert chat["sizing"]["best"]["configuration"]["max_num_seqs"] == 128
    assert chat["slo"] == {"ttft_p99_ms": 2500, "tpot_p99_ms": 80} == chat["sizing"]["slo"]
    assert chat["slo_source"] == {"ttft_p99_ms": "scenario file", "tpot_p99_ms": "command line"}
    assert data["slo_overridden"] == ["ttft_p99_ms", "tpot_p99_ms"]


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("mau: 5000000\nprompt_mean: 900\n", "remove mau, prompt_mean from the scenario file"),
        ("from_ledger: true\ndataset: openorca\n", "remove dataset from the scenario file"),
        ("layouts: [tp, dp-ep]\n", "searches tensor-parallel replicas only"),
        ("exhaustive: true\n", "drop --layouts and --exhaustive"),
    ],
)
def test_scenario_keys_the_ledger_cannot_use_are_refused(
    config: Path, tmp_path: Path, yaml_text: str, message: str
) -> None:
    scenario = tmp_path / "plan.yaml"
    scenario.write_text(yaml_text, encoding="utf-8")
    out = run(config, "--from-ledger", "--scenario", str(scenario), *SEARCH)
    assert out.exit_code == 2 and message in out.output, out.output
