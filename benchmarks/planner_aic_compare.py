"""Side by side: published figure, NVIDIA AIConfigurator's estimate, Onshore's prediction.

AIConfigurator (Apache-2.0) is NVIDIA-only and heavy, so it lives in its own venv:
    python -m venv /tmp/aicvenv && /tmp/aicvenv/bin/pip install aiconfigurator
    .venv/bin/python benchmarks/planner_aic_compare.py --aic /tmp/aicvenv/bin/aiconfigurator -n 16

Points are held-out aggregated vLLM/TensorRT-LLM rows (never used in Onshore's calibration).
AIConfigurator's database is itself built from measured kernels on the same GPUs, so its error
here is not an independent check of it; the timing columns compare the cost of one prediction.
With ``--search`` it also times one AIConfigurator ``cli default`` search next to ``plan size``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import time

import numpy as np

from onshore.planner.predict import predict
from onshore.planner.validation import load_points
from onshore.planner.validation.calibrate import sample

# Dense models only: AIConfigurator's MoE estimates need per-model MoE quantisation flags
# (MXFP4 / block FP8) that this script does not map, and returned no estimate without them.
AIC_MODELS = {
    "llama-3.1-70b": "meta-llama/Meta-Llama-3.1-70B",
    "llama-3.1-8b": "meta-llama/Meta-Llama-3.1-8B",
    "qwen3-32b": "Qwen/Qwen3-32B",
}
AIC_SYSTEMS = {"h100": "h100_sxm", "h200": "h200_sxm", "b200": "b200_sxm", "gb200": "gb200"}
QUANT = {"fp8": "fp8", "fp4": "nvfp4", "bf16": "bfloat16"}


def aic_estimate(exe: str, p: object) -> tuple[float, float, float]:
    s = p.scenario  # type: ignore[attr-defined]
    cmd = [
        exe,
        "cli",
        "estimate",
        "--model-path",
        AIC_MODELS[s.model],
        "--system",
        AIC_SYSTEMS[s.gpu],
        "--backend",
        p.engine,
        "--isl",
        str(s.input_len),
        "--osl",
        str(s.output_len),  # type: ignore[attr-defined]
        "--batch-size",
        str(round(s.load)),
        "--tp-size",
        str(s.tensor_parallel),
    ]
    cmd += ["--gemm-quant-mode", QUANT[s.precision]]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False).stdout
    wall = time.perf_counter() - t0
    ttft = re.search(r"TTFT:\s+([\d.,]+)", out)
    tpot = re.search(r"TPOT:\s+([\d.,]+)", out)
    if not ttft or not tpot:
        return float("nan"), float("nan"), wall
    return float(ttft.group(1).replace(",", "")), float(tpot.group(1).replace(",", "")), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--aic", required=True, help="path to the aiconfigurator executable")
    parser.add_argument("-n", type=int, default=16, help="held-out points to compare")
    parser.add_argument("--search", action="store_true", help="also time one AIConfigurator search")
    args = parser.parse_args()
    pool = [
        p
        for p in load_points(split="holdout")
        if p.engine in ("vllm", "trtllm") and p.scenario.model in AIC_MODELS and "tpot" in p.measured
    ]
    points = sample(pool, args.n, seed=11)
    errs: dict[str, list[float]] = {"aic ttft": [], "aic tpot": [], "onshore ttft": [], "onshore tpot": []}
    t_aic = t_on = 0.0
    print(
        f"{'engine':6s} {'model':15s} {'gpu':5s} TP {'prec':4s} {'ISL/OSL':10s} {'conc':>4s} | "
        f"{'TTFT pub':>8s} {'AIC':>7s} {'Onshore':>7s} | {'TPOT pub':>8s} {'AIC':>6s} {'Onshore':>7s}"
    )
    for p in points:
        s = p.scenario
        a_ttft, a_tpot, wall = aic_estimate(args.aic, p)
        t_aic += wall
        t0 = time.perf_counter()
        o = predict(s).as_dict()
        t_on += time.perf_counter() - t0
        m_ttft, m_tpot = p.measured["ttft"], p.measured["tpot"]
        for key, pred, meas in (
            ("aic ttft", a_ttft, m_ttft),
            ("aic tpot", a_tpot, m_tpot),
            ("onshore ttft", o["ttft_mean_ms"], m_ttft),
            ("onshore tpot", o["tpot_mean_ms"], m_tpot),
        ):
            if np.isfinite(pred):
                errs[key].append(abs(pred - meas) / meas)
                errs.setdefault(f"{key} {p.engine}", []).append(abs(pred - meas) / meas)
        print(
            f"{p.engine:6s} {s.model:15s} {s.gpu:5s} {s.tensor_parallel:2d} {s.precision:4s} "
            f"{s.input_len:>5d}/{s.output_len:<4d} {s.load:4g} | "
            f"{m_ttft:8.1f} {a_ttft:7.1f} {o['ttft_mean_ms']:7.1f} | "
            f"{m_tpot:8.2f} {a_tpot:6.2f} {o['tpot_mean_ms']:7.2f}"
        )
    print()
    for key, e in sorted(errs.items()):
        print(
            f"median |err| {key:20s} {100 * float(np.median(e)) if e else float('nan'):6.1f} %  (n={len(e)})"
        )
    print(
        f"time per point: AIConfigurator {t_aic / len(points):.2f} s (process incl. start-up), "
        f"Onshore {t_on / len(points) * 1e3:.0f} ms"
    )
    if args.search:
        cmd = [
            args.aic,
            "cli",
            "default",
            "--model-path",
            AIC_MODELS["llama-3.1-70b"],
            "--system",
            "h200_sxm",
            "--backend",
            "vllm",
            "--total-gpus",
            "8",
            "--isl",
            "1200",
            "--osl",
            "400",
            "--ttft",
            "2000",
            "--tpot",
            "60",
        ]
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
        print(
            "AIConfigurator cli default (Llama-3.1-70B, 8xH200, agg vs disagg): "
            f"{time.perf_counter() - t0:.1f} s"
        )


if __name__ == "__main__":
    main()
