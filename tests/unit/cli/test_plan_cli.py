"""``onshore plan`` through click's in-process runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from onshore.cli.plan import plan

HEADER = "model,gpu,num_gpus,tensor_parallel,precision,input_len,output_len,scenario,load\n"
PUBLIC = (
    "output_tokens_per_s",
    "requests_per_s",
    "ttft_p50_ms",
    "ttft_p99_ms",
    "tpot_mean_ms",
    "tpot_p99_ms",
)


def test_catalog_lists_ids() -> None:
    out = CliRunner().invoke(plan, ["catalog", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert {"h100", "mi325x"} <= {g["id"] for g in data["gpus"]}
    assert "deepseek-v3" in {m["id"] for m in data["models"]}
    table = CliRunner().invoke(plan, ["catalog"])
    assert table.exit_code == 0 and "gb200" in table.output


def test_predict_prints_the_public_metrics(tmp_path: Path) -> None:
    csv = tmp_path / "s.csv"
    csv.write_text(
        HEADER + "llama-3.1-8b,h100,2,1,fp8,512,128,rate,4\n"
        "llama-3.1-70b,h100,4,4,fp8,1024,256,concurrency,8\n"
        "gpt-oss-120b,b200,1,1,fp4,256,256,offline,\n"
    )
    out = CliRunner().invoke(plan, ["predict", "--scenarios", str(csv), "--json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)
    assert len(rows) == 3
    for row in rows:
        assert all(row[k] > 0 for k in PUBLIC)
        assert row["ttft_p99_ms"] >= row["ttft_p50_ms"]
    human = CliRunner().invoke(plan, ["predict", "--scenarios", str(csv)])
    assert human.exit_code == 0 and "Predictions" in human.output


def test_user_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text(HEADER + "gpt-9,h100,1,1,fp8,10,10,rate,1\n")
    out = CliRunner().invoke(plan, ["predict", "--scenarios", str(csv)])
    assert out.exit_code == 1
    assert "unknown model" in out.output and "Traceback" not in out.output
    missing = CliRunner().invoke(plan, ["predict", "--scenarios", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 1 and "cannot read" in missing.output
    odd = tmp_path / "odd.csv"
    odd.write_text(HEADER + "llama-3.1-8b,h100,3,2,fp8,10,10,rate,1\n")
    assert CliRunner().invoke(plan, ["predict", "--scenarios", str(odd)]).exit_code == 1


def test_size_writes_a_report_and_json(tmp_path: Path) -> None:
    yaml_file = tmp_path / "korea.yaml"
    yaml_file.write_text("model: llama-3.1-8b\nmau: 100000\ngpus: [h100]\ntp: [1]\nprecision: [fp8]\n")
    args = [
        "size",
        "--scenario",
        str(yaml_file),
        "--tpot-p99-ms",
        "80",
        "--workers",
        "1",
        "--report",
        str(tmp_path / "rep"),
        "--json",
    ]
    out = CliRunner().invoke(plan, args)
    assert out.exit_code == 0, out.output
    data = json.loads(out.output[out.output.index("{") :])
    assert data["model"] == "llama-3.1-8b" and data["best"]["cost"]["gpus"] >= 1
    assert (tmp_path / "rep" / "report.md").exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text("colour: blue\n")
    res = CliRunner().invoke(plan, ["size", "--scenario", str(bad)])
    assert res.exit_code == 1 and "unknown key" in res.output


def test_validate_reports_errors() -> None:
    out = CliRunner().invoke(plan, ["validate", "--limit", "2", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)


def test_size_from_a_usage_export(tmp_path: Path) -> None:
    usage = tmp_path / "usage.csv"
    rows = ["time,prompt_tokens,completion_tokens"]
    rows += [f"{1_700_000_000 + i * 2},{300 + i % 50},{80 + i % 20}" for i in range(2000)]
    usage.write_text("\n".join(rows) + "\n")
    args = [
        "size",
        "--from-usage",
        str(usage),
        "--growth",
        "x3",
        "--model",
        "llama-3.1-8b",
        "--gpus",
        "h100",
        "--tp",
        "1",
        "--precision",
        "fp8",
        "--workers",
        "1",
        "--json",
    ]
    out = CliRunner().invoke(plan, args)
    assert out.exit_code == 0, out.output
    data = json.loads(out.output[out.output.index("{") :])
    assert data["demand"]["peak_rps"] == pytest.approx(1.5, rel=0.01)  # 1 request per 2 s, times 3
    bad = tmp_path / "bad_usage.csv"
    bad.write_text("time,prompt_tokens\n1,2\n")
    res = CliRunner().invoke(plan, ["size", "--from-usage", str(bad), "--workers", "1"])
    assert res.exit_code == 1 and "bad usage row" in res.output


def test_predict_slo_rows_report_the_highest_rate_meeting_the_slo(tmp_path: Path) -> None:
    csv = tmp_path / "slo.csv"
    csv.write_text(
        "model,gpu,num_gpus,tensor_parallel,precision,input_len,output_len,scenario,load,"
        "ttft_p99_ms,tpot_p99_ms,requests,engine\n"
        "llama-3.1-8b,h100,2,1,fp8,512,64,slo,,600,20,500,vllm\n"
        "llama-3.1-8b,h100,2,1,fp8,512,64,rate,4,,,500,vllm\n"
    )
    out = CliRunner().invoke(plan, ["predict", "--scenarios", str(csv), "--json"])
    assert out.exit_code == 0, out.output
    slo, rate = json.loads(out.output)
    assert slo["scenario"] == "slo" and slo["max_requests_per_s"] > 0
    assert (slo["slo_ttft_p99_ms"], slo["slo_tpot_p99_ms"]) == (600, 20)
    assert slo["ttft_p99_ms"] <= 600 and slo["tpot_p99_ms"] <= 20
    assert all(slo[k] > 0 for k in PUBLIC)
    assert "max_requests_per_s" not in rate
    human = CliRunner().invoke(plan, ["predict", "--scenarios", str(csv)])
    assert human.exit_code == 0 and "max req/s" in human.output and "600/20 ms" in human.output
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER.strip() + ",ttft_p99_ms\nllama-3.1-8b,h100,1,1,fp8,10,10,slo,,500\n")
    missing = CliRunner().invoke(plan, ["predict", "--scenarios", str(bad)])
    assert missing.exit_code == 1 and "tpot_p99_ms" in missing.output
