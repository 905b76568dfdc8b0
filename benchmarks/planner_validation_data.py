"""Build ``onshore/planner/validation/data/published.csv`` from public measurement files.

Inputs (both public, cited per row in the output):
  * ``silicon_sample.csv`` from NVIDIA's ``aiconfigurator-core`` wheel (Apache-2.0):
    ``pip download --no-deps aiconfigurator-core==0.12.0`` and unzip
    ``aiconfigurator_core/systems/silicon_sample.csv``. Only aggregated (non-disaggregated),
    pipeline-parallel-1, attention-DP-1 rows of catalog models are kept: the planner does not model
    expert/data-parallel attention layouts.
  * ``/work/shared/data/published_inference.csv`` (MLPerf, TRT-LLM perf tables, vLLM blog rows).
  * ``benchmarks/data/rocm_vllm_perf.csv``: AMD's ROCm vLLM throughput table (MI300X), transcribed.
  * MLPerf Inference result logs: ``benchmarks/mlperf_extract.py`` writes those rows (``MLPERF:``
    source ids); this script keeps them as they are.

Rows are split into ``calibration`` and ``holdout`` by a stable hash of their configuration
(model, GPU, engine, TP, precision, ISL, OSL), so a held-out configuration is never seen, at any
concurrency, by the fit.

Usage: python benchmarks/planner_validation_data.py SILICON_SAMPLE.csv SHARED_PUBLISHED.csv
"""

from __future__ import annotations

import csv
import re
import sys
import zlib
from pathlib import Path

from onshore.planner.catalog import gpu as catalog_gpu
from onshore.planner.catalog import model as catalog_model
from onshore.planner.perf.kv import fits
from onshore.planner.perf.roofline import ReplicaSpec

OUT = Path(__file__).resolve().parents[1] / "src/onshore/planner/validation/data/published.csv"
FIELDS = [
    "source_id",
    "source",
    "engine",
    "engine_version",
    "model",
    "gpu",
    "num_gpus",
    "tensor_parallel",
    "precision",
    "scenario",
    "input_len",
    "output_len",
    "load",
    "metric",
    "value",
    "unit",
    "split",
    "notes",
    # optional: the p99 latency limits of an ``slo`` row (MLPerf Server/Interactive), empty elsewhere
    "ttft_p99_ms",
    "tpot_p99_ms",
]
VENDOR = Path(__file__).resolve().parent / "data" / "rocm_vllm_perf.csv"
MLPERF_PREFIX = "MLPERF:"  # rows owned by benchmarks/mlperf_extract.py, kept as they are
MODELS = {
    "meta-llama/Llama-3.1-70B": "llama-3.1-70b",
    "meta-llama/Llama-3.1-8B-Instruct": "llama-3.1-8b",
    "Qwen/Qwen3-32B": "qwen3-32b",
    "openai/gpt-oss-120b": "gpt-oss-120b",
    "Qwen/Qwen3-235B-A22B-FP8": "qwen3-235b-a22b",
}
GPUS = {"h100_sxm": "h100", "h200_sxm": "h200", "b200_sxm": "b200", "gb200": "gb200"}
AIC_URL = (
    "aiconfigurator-core 0.12.0 wheel (PyPI, Apache-2.0) aiconfigurator_core/systems/silicon_sample.csv; "
    "repo https://github.com/ai-dynamo/aiconfigurator"
)


def split_of(*key: object) -> str:
    h = zlib.crc32("|".join(map(str, key)).encode())
    return "holdout" if h % 10 < 3 else "calibration"


def aic_rows(path: Path) -> list[dict[str, str]]:
    out = []
    for r in csv.DictReader(path.open()):
        if r["mode"] != "agg" or r["model_path"] not in MODELS or r["system"] not in GPUS:
            continue
        tp = int(r["tp_size"] or 1)
        if (r["pp_size"] or "1") != "1" or (r["attention_dp_size"] or "1") not in ("1", "0", ""):
            continue
        if (r["moe_ep_size"] or "1") not in ("0", "1", str(tp)) or tp > 8:
            continue
        m = re.search(r"silicon_concurrency=(\d+)", r["silicon_data_source"])
        conc = int(m.group(1)) if m else int(r["batch_size"])
        precision = {"": "bf16", "fp8": "fp8", "fp4": "fp4"}[r["precision"]]
        model, gpu = MODELS[r["model_path"]], GPUS[r["system"]]
        split = split_of(model, gpu, r["backend"], tp, precision, r["isl"], r["osl"])
        if not fits(ReplicaSpec(catalog_model(model), catalog_gpu(gpu), tp, precision)):
            continue  # mislabelled layout (e.g. a 235B model on one GPU): cannot be this TP alone
        for metric, col in (("ttft", "silicon_ttft_ms"), ("tpot", "silicon_tpot_ms")):
            out.append(
                {
                    "source_id": f"AIC-SILICON-SAMPLE:{r['id']}",
                    "source": AIC_URL,
                    "engine": r["backend"],
                    "engine_version": r["backend_version"],
                    "model": model,
                    "gpu": gpu,
                    "num_gpus": str(tp),
                    "tensor_parallel": str(tp),
                    "precision": precision,
                    "scenario": "concurrency",
                    "input_len": r["isl"],
                    "output_len": r["osl"],
                    "load": str(conc),
                    "metric": metric,
                    "value": f"{float(r[col]):.4g}",
                    "unit": "ms",
                    "split": split,
                    "notes": "closed loop; statistic unstated; "
                    + r["silicon_data_source"].split("; ")[-1][:60].replace(",", ";"),
                }
            )
    return out


def shared_rows(path: Path) -> list[dict[str, str]]:
    out = []
    model_map = {
        "Llama-3.3-70B-Instruct": "llama-3.1-70b",
        "Meta-Llama-3-8B": "llama-3.1-8b",
        "Llama-2-70B-Chat": "llama-2-70b",
        "Mixtral-8x7B-Instruct-v0.1": "mixtral-8x7b",
    }
    for r in csv.DictReader(path.open()):
        model = model_map.get(r["model"], "")
        usable = bool(model and r["input_len"] and r["metric"] in ("output_tokens_per_s", "tpot_approx"))
        scenario = "offline" if "offline" in r["scenario"].lower() else "concurrency"
        metric = {"tpot_approx": "tpot", "output_tokens_per_s": "output_tokens_per_s"}.get(
            r["metric"], r["metric"]
        )
        tp = re.match(r"\d+", r["tensor_parallel"] or "1")
        out.append(
            {
                "source_id": r["source_id"],
                "source": r["source_url_or_ref"],
                "engine": "trtllm" if "TensorRT" in r["engine"] else "vllm",
                "engine_version": r["engine"],
                "model": model or r["model"],
                "gpu": "h100" if "H100" in r["gpu"] else r["gpu"],
                "num_gpus": r["num_gpus"] or "1",
                "tensor_parallel": tp.group(0) if tp else "1",
                "precision": "fp8" if r["precision"].startswith("fp8") else "bf16",
                "scenario": scenario,
                "input_len": r["input_len"] or "",
                "output_len": r["output_len"] or "",
                "load": "1" if scenario == "concurrency" else "",
                "metric": metric,
                "value": r["value"],
                "unit": r["unit"],
                "split": ("holdout" if usable else "excluded"),
                "notes": (
                    r["notes"][:200]
                    if usable
                    else "excluded: input length not stated or model/layout not modelled; " + r["notes"][:120]
                ).replace("\n", " "),
            }
        )
    return out


def vendor_rows() -> list[dict[str, str]]:
    """Hand-transcribed vendor tables, already in this file's format (``benchmarks/data/*.csv``):
    AMD's ROCm vLLM throughput table for MI300X, one row per cited configuration."""
    with VENDOR.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def mlperf_rows() -> list[dict[str, str]]:
    """The MLPerf rows already in the output: rebuilt only by ``benchmarks/mlperf_extract.py``."""
    if not OUT.exists():
        return []
    with OUT.open(newline="", encoding="utf-8") as fh:
        return [r for r in csv.DictReader(fh) if r["source_id"].startswith(MLPERF_PREFIX)]


def main() -> None:
    rows = aic_rows(Path(sys.argv[1])) + shared_rows(Path(sys.argv[2])) + vendor_rows() + mlperf_rows()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", newline="") as fh:
        w = csv.DictWriter(fh, FIELDS, restval="")
        w.writeheader()
        w.writerows(rows)
    splits: dict[str, int] = {}
    for r in rows:
        splits[r["split"]] = splits.get(r["split"], 0) + 1
    print(f"wrote {len(rows)} rows to {OUT}: {splits}")


if __name__ == "__main__":
    main()
