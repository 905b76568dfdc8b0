"""``onshore plan`` with shaped traffic: dataset profiles, distributions, prefix caching, chat turns."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from onshore.cli.plan import plan

HEADER = "model,gpu,num_gpus,tensor_parallel,precision,input_len,output_len,scenario,load,requests"


def _predict(tmp_path: Path, text: str) -> list[dict[str, float]]:
    csv = tmp_path / "s.csv"
    csv.write_text(text)
    out = CliRunner().invoke(plan, ["predict", "--scenarios", str(csv), "--json"])
    assert out.exit_code == 0, out.output
    rows: list[dict[str, float]] = json.loads(out.output)
    return rows


def test_catalog_lists_the_dataset_profiles_with_sources() -> None:
    out = CliRunner().invoke(plan, ["catalog", "--json"])
    assert out.exit_code == 0, out.output
    profiles = {d["id"]: d for d in json.loads(out.output)["datasets"]}
    assert profiles["cnn-dailymail"]["output"] == "fixed:128"
    assert profiles["openorca"]["server_slo_ms"] == [2000.0, 200.0]
    assert all("http" in d["source"] for d in profiles.values())


def test_predict_takes_dataset_and_distribution_columns(tmp_path: Path) -> None:
    rows = _predict(
        tmp_path,
        HEADER + ",dataset,input_dist,output_dist,prefix_cache_hit_rate,chat_turns\n"
        "llama-3.1-8b,h100,1,1,fp8,,,rate,8,600,mlperf-llama3.1-8b,,,,\n"
        'llama-3.1-8b,h100,1,1,fp8,,,rate,8,600,,"lognormal:mean=870,sigma=0.8",fixed:128,,\n'
        "llama-3.1-8b,h100,1,1,fp8,870,128,rate,8,600,,lognormal:median=784;p90=1479,,0.5,\n"
        "llama-3.1-8b,h100,1,1,fp8,200,300,rate,8,600,,,,,4\n"
        "llama-3.1-8b,h100,1,1,fp8,870,128,rate,8,600,,,,,\n",
    )
    assert [(r["input_len"], r["output_len"]) for r in rows[:2]] == [(871, 128), (870, 128)]
    assert rows[2]["input_len"] == 886 and rows[2]["output_len"] == 128  # median 784, p90 1479: mean 886
    for r in rows:
        assert r["output_tokens_per_s"] > 0 and r["ttft_p99_ms"] >= r["ttft_p50_ms"] > 0
    # the cached half of each prompt is not prefilled
    assert rows[2]["ttft_p50_ms"] < rows[4]["ttft_p50_ms"]


def test_old_scenario_files_mean_what_they_meant(tmp_path: Path) -> None:
    old = _predict(tmp_path, HEADER + "\nllama-3.1-8b,h100,1,1,fp8,870,128,rate,8,600\n")
    new = _predict(
        tmp_path,
        HEADER + ",dataset,prefix_cache_hit_rate\nllama-3.1-8b,h100,1,1,fp8,870,128,rate,8,600,,0\n",
    )
    assert old == new


def test_shape_errors_are_one_line(tmp_path: Path) -> None:
    for cells, message in (
        (",dataset\nllama-3.1-8b,h100,1,1,fp8,,,rate,8,100,imagenet\n", "unknown dataset"),
        (",input_dist\nllama-3.1-8b,h100,1,1,fp8,,128,rate,8,100,gamma:k=2\n", "length distribution"),
        (",chat_turns\nllama-3.1-8b,h100,1,1,fp8,100,100,offline,,100,3\n", "chat_turns"),
        (",prefix_cache_hit_rate\nllama-3.1-8b,h100,1,1,fp8,100,100,rate,1,100,2\n", "between 0 and 1"),
    ):
        csv = tmp_path / "bad.csv"
        csv.write_text(HEADER + cells)
        out = CliRunner().invoke(plan, ["predict", "--scenarios", str(csv)])
        assert out.exit_code == 1, out.output
        assert message in out.output and "Traceback" not in out.output


def test_size_takes_a_dataset_and_a_prefix_hit_rate(tmp_path: Path) -> None:
    base = ["size", "--model", "llama-3.1-8b", "--mau", "50000", "--gpus", "h100", "--tp", "1"]
    base += ["--precision", "fp8", "--workers", "1", "--json"]
    args = [*base, "--dataset", "cnn-dailymail", "--prefix-hit-rate", "0.5"]
    out = CliRunner().invoke(plan, args)
    assert out.exit_code == 0, out.output
    data = json.loads(out.output[out.output.index("{") :])
    assert data["best"]["cost"]["gpus"] >= 1
    assert data["assumptions"]["dataset"] == "cnn-dailymail"
    dist = CliRunner().invoke(plan, [*base, "--input-dist", "lognormal:mean=900,sigma=0.7"])
    assert dist.exit_code == 0, dist.output
    bad = CliRunner().invoke(plan, [*base, "--dataset", "nope"])
    assert bad.exit_code == 1 and "unknown dataset" in bad.output


def test_ledger_mode_refuses_length_options() -> None:
    out = CliRunner().invoke(plan, ["size", "--from-ledger", "--dataset", "openorca"])
    assert out.exit_code != 0 and "--dataset" in out.output
