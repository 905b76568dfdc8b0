"""MLPerf v4.1 and v5.1 are the held-out check: no row of theirs is ever fitted, and the calibration
fit reads the fit split only (issue 14)."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import sys
from importlib import resources
from pathlib import Path
from types import ModuleType

import pytest

from onshore.planner.errors import PlannerError
from onshore.planner.validation import calibrate
from onshore.planner.validation.dataset import (
    FIT_SPLIT,
    HOLDOUT_SPLIT,
    fit_points,
    is_held_out_source,
    load_points,
)

ROOT = Path(__file__).resolve().parents[3]
HEADER = (
    "source_id,source,engine,engine_version,model,gpu,num_gpus,tensor_parallel,precision,scenario,"
    "input_len,output_len,load,metric,value,unit,split,notes,ttft_p99_ms,tpot_p99_ms\n"
)


def _published() -> list[dict[str, str]]:
    text = resources.files("onshore.planner.validation").joinpath("data", "published.csv").read_text("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def _round(row: dict[str, str]) -> str:
    return row["source_id"].split(":")[1] if row["source_id"].startswith("MLPERF:") else ""


def test_no_held_out_mlperf_row_is_in_the_fit_split() -> None:
    rows = [r for r in _published() if is_held_out_source(r["source"]) or _round(r) in ("v4.1", "v5.1")]
    assert len(rows) > 100  # the held-out rounds are in the data
    assert all(r["split"] != FIT_SPLIT for r in rows)
    kept = [r for r in rows if r["split"] != "excluded"]
    assert kept and all(r["split"] == HOLDOUT_SPLIT for r in kept)
    assert all(f"MLPerf {_round(r)} held out" in r["notes"] for r in kept if _round(r))


def test_fit_rounds_are_fitted_and_every_mlperf_row_cites_its_log() -> None:
    rows = [r for r in _published() if r["source_id"].startswith("MLPERF:")]
    fit = [r for r in rows if _round(r) in ("v4.0", "v5.0")]
    assert fit and {r["split"] for r in fit} <= {FIT_SPLIT, "excluded"}
    assert any(r["split"] == FIT_SPLIT and r["gpu"] in ("mi300x", "mi325x") for r in fit)
    assert all("@" in r["source"] and r["source"].endswith("mlperf_log_summary.txt") for r in rows)
    slo = [r for r in rows if r["scenario"] == "slo"]
    assert slo and all(float(r["ttft_p99_ms"]) > 0 and float(r["tpot_p99_ms"]) > 0 for r in slo)


def test_fit_points_are_the_fit_split_only() -> None:
    points = fit_points()
    assert points and all(p.split == FIT_SPLIT for p in points)
    assert not any(is_held_out_source(p.source) for p in points)
    assert any(p.key.startswith("MLPERF:v5.0") for p in points)


def test_a_held_out_row_labelled_for_the_fit_is_refused(tmp_path: Path) -> None:
    row = next(r for r in _published() if _round(r) == "v5.1" and r["split"] == HOLDOUT_SPLIT)
    path = tmp_path / "published.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, list(row))
        w.writeheader()
        w.writerow(row | {"split": FIT_SPLIT})
    with pytest.raises(PlannerError, match="held-out MLPerf"):
        fit_points(path)


def test_optional_columns_may_be_absent_and_slo_rows_are_points(tmp_path: Path) -> None:
    path = tmp_path / "published.csv"
    common = "vllm,x,llama-3.1-8b,h100,1,1,bf16"
    path.write_text(
        HEADER
        # an old row: no limit columns at all
        + f"A,src,{common},concurrency,128,16,1,tpot,10,ms,calibration,n\n"
        + f"B,src,{common},slo,128,16,,max_requests_per_s,5,req/s,calibration,n,2000,100\n",
        encoding="utf-8",
    )
    points = load_points(path)
    assert [p.key.split("|")[0] for p in points] == ["A", "B"]
    slo = points[1]
    assert slo.measured == {"max_requests_per_s": 5.0}
    assert (slo.scenario.ttft_p99_ms, slo.scenario.tpot_p99_ms) == (2000.0, 100.0)


def test_the_calibration_fit_never_reads_held_out_rows(tmp_path: Path) -> None:
    data, out = tmp_path / "published.csv", tmp_path / "calibration.json"
    fit_row = "vllm,x,llama-3.1-8b,h100,1,1,bf16,concurrency,128,16,1"
    # simulating either held-out row would raise (no such model): the fit must not even load them
    bad = "vllm,x,no-such-model,h100,1,1,bf16,concurrency,128,16,1"
    data.write_text(
        HEADER
        + f"FIT,src,{fit_row},ttft,20,ms,calibration,n\n"
        + f"FIT,src,{fit_row},tpot,8,ms,calibration,n\n"
        + f"HELD,https://github.com/mlcommons/inference_results_v5.1@x a,{bad},tpot,8,ms,holdout,n\n"
        + f"HOLD,src,{bad},ttft,20,ms,holdout,n\n",
        encoding="utf-8",
    )
    # an slo row of the fit split is validated, not fitted (a search per residual is too dear)
    slo_row = "vllm,x,llama-3.1-8b,h100,1,1,bf16,slo,128,16,"
    data.write_text(
        data.read_text(encoding="utf-8")
        + f"SLO,src,{slo_row},max_requests_per_s,5,req/s,calibration,n,2000,100\n",
        encoding="utf-8",
    )
    args = ["--data", str(data), "--engine", "vllm", "--iterations", "1", "--out", str(out)]
    assert calibrate.main(args) == 0
    meta = json.loads(out.read_text(encoding="utf-8"))["meta"]
    assert meta["vllm"]["points"] == 1


def _extractor() -> ModuleType:
    sys.path.insert(0, str(ROOT / "benchmarks"))  # for its layouts module
    try:
        spec = importlib.util.spec_from_file_location(
            "mlperf_extract", ROOT / "benchmarks" / "mlperf_extract.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses resolve their annotations through it
        spec.loader.exec_module(module)
    finally:
        while str(ROOT / "benchmarks") in sys.path:
            sys.path.remove(str(ROOT / "benchmarks"))
    return module


SUMMARY = """Scenario : Server
Completed samples per second    : 100.0
Completed tokens per second: 29000.0
Result is : VALID
99.00 percentile first token latency (ns)   : 450000000
99.00 percentile time to output token (ns)   : 150000000
ttft_latency (ns): 2000000000
tpot_latency (ns): 200000000
"""


@pytest.mark.parametrize(
    ("rnd", "split"), [("v5.0", FIT_SPLIT), ("v5.1", HOLDOUT_SPLIT), ("v4.1", HOLDOUT_SPLIT)]
)
def test_the_extractor_labels_each_round(tmp_path: Path, rnd: str, split: str) -> None:
    system = "8xMI325X_test"
    (tmp_path / "PROVENANCE").write_text(f"mlcommons/inference_results_{rnd}@abc123\n", encoding="utf-8")
    log = (
        tmp_path
        / f"closed/AMD/results/{system}/llama2-70b-99/Server/performance/run_1/mlperf_log_summary.txt"
    )
    log.parent.mkdir(parents=True)
    log.write_text(SUMMARY, encoding="utf-8")
    desc = {
        "accelerator_model_name": "AMD Instinct MI325X 256GB HBM3E",
        "accelerators_per_node": 8,
        "number_of_nodes": 1,
        "framework": "vLLM 0.9.0, ROCm 6.4",
        "status": "available",
    }
    (tmp_path / "closed/AMD/systems").mkdir(parents=True)
    (tmp_path / f"closed/AMD/systems/{system}.json").write_text(json.dumps(desc), encoding="utf-8")
    extract = _extractor()
    rows = extract.rows_for(extract.Snapshot(tmp_path))
    assert {r["split"] for r in rows} == {split}
    assert {(r["scenario"], r["metric"]) for r in rows} == {
        ("rate", "output_tokens_per_s"),
        ("rate", "ttft_p99"),
        ("rate", "tpot_p99"),
        ("slo", "max_requests_per_s"),
    }
    slo = next(r for r in rows if r["scenario"] == "slo")
    assert (slo["value"], slo["ttft_p99_ms"], slo["tpot_p99_ms"], slo["output_len"]) == (
        "100",
        "2000",
        "200",
        "290",
    )
    assert all(r["gpu"] == "mi325x" and r["tensor_parallel"] == "1" and r["engine"] == "vllm" for r in rows)
    assert ("held out" in rows[0]["notes"]) == (split == HOLDOUT_SPLIT)


def test_the_rocm_vllm_table_is_in_the_published_data() -> None:
    with (ROOT / "benchmarks" / "data" / "rocm_vllm_perf.csv").open(newline="", encoding="utf-8") as fh:
        table = list(csv.DictReader(fh))
    published = {(r["source_id"], r["metric"]): r for r in _published()}
    # the table's columns, as published (published.csv has optional columns the table lacks)
    assert table and all({k: published[(r["source_id"], r["metric"])][k] for k in r} == r for r in table)
    assert {r["gpu"] for r in table if r["split"] == FIT_SPLIT} == {"mi300x"}
