"""A GPU vendor's software stack gets its own profile of an engine (vLLM on ROCm), fitted on that
vendor's rows only and from the engine's profile."""

from __future__ import annotations

import json
from pathlib import Path

from onshore.planner.perf import calibration as calib
from onshore.planner.validation import calibrate

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
    assert "vllm-rocm" in shipped  # fitted on AMD's MLPerf v4.0/v5.0 results and ROCm vLLM table
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
