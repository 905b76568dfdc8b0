"""A GPU vendor's software stack gets its own profile of an engine (vLLM on ROCm), fitted on that
vendor's rows only and from the engine's profile."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from onshore.planner.perf import calibration as calib
from onshore.planner.predict import predict
from onshore.planner.validation import calibrate, compare, error_table, load_points

HEADER = (
    "source_id,source,engine,engine_version,model,gpu,num_gpus,tensor_parallel,precision,scenario,"
    "input_len,output_len,load,metric,value,unit,split,notes,ttft_p99_ms,tpot_p99_ms\n"
)


def test_profile_names_by_vendor() -> None:
    assert calib.profile_name("vllm", "AMD") == "vllm-rocm"
    assert calib.profile_name("vLLM", "NVIDIA") == "vllm"
    assert calib.profile_name("trtllm") == "trtllm"


def test_an_amd_gpu_gets_the_rocm_profile_where_one_is_shipped() -> None:
    shipped = json.loads(
        (Path(calib.__file__).parent / "data" / "calibration.json").read_text(encoding="utf-8")
    )["profiles"]
    # fitted on AMD's MLPerf v4.0/v5.0 results, ROCm vLLM throughput and batch-latency tables
    assert "vllm-rocm" in shipped
    assert calib.shipped("vllm", "AMD") == calib.Calibration.from_dict(shipped["vllm-rocm"])
    assert calib.shipped("vllm", "NVIDIA") == calib.Calibration.from_dict(shipped["vllm"])
    # no ROCm profile of an engine: the engine's own
    assert calib.shipped("sglang", "AMD") == calib.shipped("sglang")


def test_amd_rows_fit_the_vendor_profile_only_in_its_stack_parameters(tmp_path: Path) -> None:
    data, out = tmp_path / "published.csv", tmp_path / "calibration.json"
    nvidia = "vllm,x,llama-3.1-8b,h100,1,1,bf16,concurrency,128,16,1"
    amd = "vllm,x,llama-3.1-8b,mi300x,1,1,bf16,concurrency,128,16,1"
    data.write_text(
        HEADER
        + f"N,src,{nvidia},ttft,20,ms,calibration,n\n"
        + f"N,src,{nvidia},tpot,8,ms,calibration,n\n"
        + f"A,src,{amd},ttft,60,ms,calibration,n\n"
        + f"A,src,{amd},tpot,30,ms,calibration,n\n",
        encoding="utf-8",
    )
    args = ["--data", str(data), "--iterations", "1", "--out", str(out)]
    assert calibrate.main(args) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["meta"]["vllm"]["points"] == 1 and doc["meta"]["vllm-rocm"]["points"] == 1
    assert doc["meta"]["vllm-rocm"]["fitted"] == list(calibrate.STACK_FITTED)
    base, rocm = doc["profiles"]["vllm"], doc["profiles"]["vllm-rocm"]
    # the host-side overheads are the engine's; the achieved fractions of peak moved (AMD 3-4x slower)
    assert all(rocm[k] == base[k] for k in ("step_ms", "seq_us", "request_ms", "layer_us"))
    assert rocm["mem_eff"] < base["mem_eff"] or rocm["compute_eff"] < base["compute_eff"]


def test_batch_latency_rows_are_closed_loop_points_of_one_request_per_client() -> None:
    rows = [p for p in load_points(split="calibration") if "e2e_mean" in p.measured]
    assert len(rows) >= 12 and all(p.scenario.requests == round(p.scenario.load) for p in rows)
    assert {p.scenario.gpu for p in rows} == {"mi300x"}
    table = error_table(compare(rows[:2]))
    assert table["e2e latency [calibration]"]["n"] == 2


@pytest.mark.parametrize(("batch", "measured_s"), [(1, 15.882), (4, 18.487)])
def test_the_rocm_profile_decodes_a_small_batch_as_amd_measured_it(batch: int, measured_s: float) -> None:
    # AMD's ROCm vLLM latency table (calibration rows): Llama 3.1 70B FP8, TP8 on 8 x MI300X, a batch
    # of 128-token prompts answered with 2,048 tokens. The profile fitted on large-batch rows alone
    # put mem_eff at its 0.2 floor and took 28.2 s for a batch of one (1.8x); MLPerf Interactive's
    # 40 ms TPOT limit was then out of reach on any AMD system.
    point = next(
        p
        for p in load_points(split="calibration")
        if p.key.startswith(f"ROCM-VLLM-PERF-2025-10-06:llama-3.1-70b:latency:b{batch}|")
    )
    predicted_s = predict(point.scenario).e2e_mean_ms / 1e3
    assert predicted_s == pytest.approx(measured_s, rel=0.15)


def test_only_the_named_parameters_are_refit(tmp_path: Path) -> None:
    data, out = tmp_path / "published.csv", tmp_path / "calibration.json"
    nvidia = "trtllm,x,llama-3.1-8b,h100,1,1,bf16,concurrency,128,16,4"
    data.write_text(
        HEADER + f"N,src,{nvidia},ttft,40,ms,calibration,n\n" + f"N,src,{nvidia},tpot,5,ms,calibration,n\n",
        encoding="utf-8",
    )
    args = ["--data", str(data), "--iterations", "1", "--out", str(out), "--from-shipped"]
    assert calibrate.main([*args, "--only", "graph_frac,layer_us"]) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    fitted, shipped = doc["profiles"]["trtllm"], calib.shipped("trtllm").to_dict()
    assert doc["meta"]["trtllm"]["fitted"] == ["graph_frac", "layer_us"]
    assert {k for k in fitted if fitted[k] != shipped[k]} <= {"graph_frac", "layer_us"}
    assert fitted["layer_us"] != shipped["layer_us"] or fitted["graph_frac"] != shipped["graph_frac"]
    with pytest.raises(SystemExit):
        calibrate.main([*args, "--only", "no_such_parameter"])
