"""``plan size --disaggregated``: the pools sized beside the aggregated fleet, in JSON and on screen."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from onshore.cli.plan import plan

PREFILL_HEAVY = [
    "size",
    "--model",
    "llama-3.1-8b",
    "--mau",
    "200000",
    "--gpus",
    "h100",
    "--tp",
    "1",
    "--precision",
    "fp8",
    "--prompt-mean",
    "3000",
    "--prompt-sigma",
    "0.1",
    "--output-mean",
    "150",
    "--output-sigma",
    "0.1",
    "--tpot-p99-ms",
    "25",
    "--executor",
    "serial",
    "--disaggregated",
]


def test_disaggregated_pools_are_sized_and_compared_in_json() -> None:
    out = CliRunner().invoke(plan, [*PREFILL_HEAVY, "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output[out.output.index("{") :])
    pools = data["disaggregated"]
    best = pools["best"]
    assert best is not None and best["feasible"]
    assert best["prefill_replicas"] >= 1 and best["decode_replicas"] >= 1
    assert best["cost"]["gpus"] == best["prefill_replicas"] * best["prefill_tp"] + (
        best["decode_replicas"] * best["decode_tp"]
    )
    assert best["kv_transfer_p99_ms"] > 0
    aggregated = data["best"]["cost"]["annual_cost_krw"]
    assert pools["gain_over_aggregated"] == round(aggregated / best["cost"]["annual_cost_krw"], 4)


def test_without_the_flag_nothing_changes_and_the_table_says_the_verdict() -> None:
    plain = CliRunner().invoke(plan, [*PREFILL_HEAVY[:-1], "--json"])
    assert plain.exit_code == 0, plain.output
    assert "disaggregated" not in json.loads(plain.output[plain.output.index("{") :])
    shown = CliRunner().invoke(plan, PREFILL_HEAVY)
    assert shown.exit_code == 0, shown.output
    assert "disaggregated best:" in shown.output and "aggregated needs" in shown.output


def test_the_written_report_has_the_pools_beside_the_aggregated_answer(tmp_path: Path) -> None:
    out = CliRunner().invoke(plan, [*PREFILL_HEAVY, "--json", "--report", str(tmp_path)])
    assert out.exit_code == 0, out.output
    printed = json.loads(out.output[out.output.index("{") :])["disaggregated"]
    written = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert written["disaggregated"] == printed  # the same public JSON in the file
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    section = md[md.index("## Disaggregated prefill/decode") :]
    best = printed["best"]
    assert f"disaggregated best: {best['label']}: {best['prefill_replicas']} prefill + " in section
    assert f"aggregated needs {printed['gain_over_aggregated']:.2f}x the cost" in section
    assert section.count("| h100 fp8 disagg P:TP1 D:TP1") == len(printed["candidates"]) == 1
