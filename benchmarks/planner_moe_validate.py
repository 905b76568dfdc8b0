"""Attention-DP + expert-parallel (dp-ep) layouts against public DeepSeek-V3/R1 measurements.

Each published point is a fixed setup at saturation, so the planner is asked the same thing with
its step model (no queueing): the time of one decode step of ``batch`` sequences per GPU at the
published KV length, or one prefill step of ``tokens`` per GPU, over the published number of GPUs
laid out dp-ep, and the throughput per 8-GPU node that gives. Then the all-to-all alone against
DeepEP's own kernel timings, and the MLPerf v5.1 DeepSeek-R1 rows simulated as TP8 and as DP8-EP8.
Sources are cited in docs/planner.md ("Attention data-parallel and expert parallel").

    PYTHONPATH=src .venv/bin/python benchmarks/planner_moe_validate.py [--requests 2000]
"""

from __future__ import annotations

import argparse
import dataclasses

from onshore.planner.catalog import gpu, model
from onshore.planner.perf import calibration as calib
from onshore.planner.perf import moe_layout
from onshore.planner.perf.roofline import ReplicaSpec, StepModel
from onshore.planner.predict import Scenario, predict_metrics

DSV3 = model("deepseek-v3")

# (label, GPU, EP size, per-GPU decode batch, KV length, measured output tokens/s per node, note)
DECODE = [
    ("SGLang decode, 9 x 8 H100, EP72", "h100", 72, 256, 2000, 22_282, ""),
    ("DeepSeek profile decode, EP128 (H800)", "h100", 128, 128, 4096, 18_598, "MTP"),
    ("DeepSeek production decode, EP144 (H800)", "h100", 144, 128, 4989, 14_800, "MTP, live load"),
]
# (label, GPU, EP size, prompt tokens, tokens per GPU per step, measured input tokens/s per node)
PREFILL = [
    ("SGLang prefill, 4 x 8 H100, EP32, 4K prompts", "h100", 32, 4096, 16_384, 50_302),
    ("  same, simulated perfect EPLB", "h100", 32, 4096, 16_384, 59_337),
    ("DeepSeek profile prefill, EP32 (H800)", "h100", 32, 4096, 16_384, 62_713),
]
# DeepEP low-latency kernels, H800 + CX7 400 Gb/s, 128 tokens per rank, hidden 7168, top-8,
# FP8 dispatch + BF16 combine: dispatch + combine microseconds per layer
DEEPEP_LL = [(32, 155 + 273), (64, 173 + 314), (128, 192 + 369)]


def _step(g: str, gpus: int, engine: str) -> StepModel:
    spec = ReplicaSpec(DSV3, gpu(g), gpus, "fp8", layout=moe_layout.DP_EP)
    return StepModel.build(spec, calib.shipped(engine))


def decode_rows() -> None:
    print("| Setup | Measured tok/s/node | Planner | Planner / measured | Not modelled |")
    print("|---|---:|---:|---:|---|")
    for label, g, ep, batch, kv, measured, note in DECODE:
        step = _step(g, ep, "sglang")
        t = float(step.decode_step(float(batch * ep), float(kv)))
        per_node = 8 * batch / t
        ratio = per_node / measured
        print(f"| {label}, {batch}/GPU, KV {kv} | {measured:,} | {per_node:,.0f} | {ratio:.2f} | {note} |")
    for label, g, ep, prompt, per_gpu, measured in PREFILL:
        step = _step(g, ep, "sglang")
        seqs = per_gpu * ep / prompt
        t = float(step.prefill_step(float(prompt), seqs))
        per_node = 8 * per_gpu / t
        print(f"| {label} | {measured:,} | {per_node:,.0f} | {per_node / measured:.2f} | |")


def gb200_rows() -> None:
    # SGLang on GB200 NVL72 (lmsys.org/blog/2025-06-16-gb200-part-1): 12 trays (48 GPUs) decode,
    # NVLink only, two-batch overlap off, 2,000-token inputs: 7,583 tokens/s per GPU; batch not stated
    print("\n| GB200 NVL72, DP48-EP48 decode, KV 2,000 | Measured tok/s/GPU | Planner |")
    print("|---|---:|---:|")
    step = _step("gb200", 48, "sglang")
    for batch in (256, 512, 1024):
        t = float(step.decode_step(float(batch * 48), 2000.0))
        print(f"| {batch} seq/GPU | 7,583 (batch not stated) | {batch / t:,.0f} |")


def all_to_all_rows() -> None:
    print("\n| EP | DeepEP dispatch + combine, µs/layer | Planner, imbalance 1.0 | Planner, 1.2 |")
    print("|---:|---:|---:|---:|")
    cal = calib.shipped("sglang")
    for ep, measured in DEEPEP_LL:
        row = [f"| {ep} | {measured}"]
        for imb in (1.0, moe_layout.EXPERT_IMBALANCE):
            per_token = moe_layout.a2a_s_per_local_token(DSV3, gpu("h100"), ep, "fp8", imb)
            us = (per_token * 128 + 2 * cal.allreduce_us * 1e-6) * 1e6
            row.append(f"{us:,.0f}")
        print(" | ".join(row) + " |")


def mlperf_rows(requests: int) -> None:
    print("\n| MLPerf v5.1 DeepSeek-R1, 8 x B200 FP4, TRT-LLM | Measured | TP8 | DP8-EP8 |")
    print("|---|---:|---:|---:|")
    base = Scenario(
        "deepseek-v3", "b200", 8, 8, "fp4", 804, 3650, "offline", 0.0, "trtllm", requests=requests
    )
    got = [
        predict_metrics(dataclasses.replace(base, parallel=p))["output_tokens_per_s"]
        for p in (moe_layout.TP, moe_layout.DP_EP)
    ]
    print(f"| Offline output tokens/s (Dell XE9680L) | 30,493 | {got[0]:,.0f} | {got[1]:,.0f} |")


def direction_rows() -> None:
    print(
        "\n| 8 x H200 FP8, SGLang profile, 1,000/1,000 tokens | TP8 tok/s/GPU | DP8-EP8 tok/s/GPU | ratio |"
    )
    print("|---|---:|---:|---:|")
    for clients in (16, 128, 512, 1024):
        base = Scenario(
            "deepseek-v3",
            "h200",
            8,
            8,
            "fp8",
            1000,
            1000,
            "concurrency",
            clients,
            "sglang",
            requests=2 * clients,
        )
        got = [
            predict_metrics(dataclasses.replace(base, parallel=p))["output_tokens_per_s"] / 8
            for p in (moe_layout.TP, moe_layout.DP_EP)
        ]
        print(f"| {clients} clients | {got[0]:,.0f} | {got[1]:,.0f} | {got[1] / got[0]:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--requests", type=int, default=0, help="requests per MLPerf offline simulation (0: predict's own)"
    )
    args = parser.parse_args()
    decode_rows()
    gb200_rows()
    all_to_all_rows()
    mlperf_rows(args.requests)
    direction_rows()


if __name__ == "__main__":
    main()
