"""The published-measurement file loads, and predictions pair up with it."""

from __future__ import annotations

import math

from onshore.planner.validation import compare, error_table, load_points
from onshore.planner.validation.calibrate import sample
from onshore.planner.validation.run import derived_throughput


def test_points_have_sources_and_both_splits() -> None:
    points = load_points()
    assert len(points) > 500
    assert {p.split for p in points} == {"calibration", "holdout"}
    assert all(p.source for p in points)


def test_comparisons_and_error_table() -> None:
    points = [p for p in load_points(split="holdout") if p.scenario.load <= 16][:4]
    comparisons = compare(points)
    assert comparisons and all(math.isfinite(c.error) for c in comparisons)
    table = error_table(comparisons)
    assert all(row["n"] > 0 and row["median_abs_pct"] >= 0 for row in table.values())
    p = points[0]
    implied = derived_throughput(p)
    assert implied is not None and implied > 0


# The accuracy bound (issue 14: "the validation runs in the test suite on a small split with a
# bound that fails if accuracy drops"). A fixed sample of held-out points (never fitted): 40
# closed-loop points of every engine on NVIDIA GPUs, and one MLPerf v4.1 Server result (Llama 2
# 70B on one MI300X) as an SLO-capacity search, predicted with the shipped calibration. Each
# family's median |error| must stay under its bound: the sample's medians with the shipped
# calibration, rounded up by ~2 points (the simulator is deterministic for a seed, so only a model
# or calibration change moves them; tighten them when accuracy improves). The full held-out
# validation is benchmarks/planner_validate.py (docs/planner.md, Validation).
ACCURACY_SAMPLE = 40
# measured 28.8, 11.2, 10.7 % since TensorRT-LLM's decode steps within its CUDA-graph batch pay
# graph_frac of the per-layer latency (calibration.json, trtllm graph_refit); 28.7, 14.1, 13.7 %
# before, since closed-loop clients drift apart (calibration.CLOSED_LOOP_DRIFT, with vLLM's and
# TensorRT-LLM's request_ms refit); 37.2, 12.8, 12.5 % with lock-step clients
ACCURACY_BOUNDS = {"ttft": 30.5, "tpot": 13.0, "throughput (derived)": 12.5}
SLO_POINT = "MLPERF:v4.1:closed/AMD/1xMI300X_2xEPYC-9374F/llama2-70b-99/Server"
# |error| of that one SLO capacity, in %: measured +2.3 % since vllm-rocm's refit with AMD's and a
# cloud's batch-latency rows; +32.0 % with the profile fitted on large-batch rows alone (its
# mem_eff at the 0.2 floor), -7.1 % before that.
SLO_BOUND = 5.0


def test_held_out_accuracy_does_not_drop() -> None:
    held_out = load_points(split="holdout")
    pool = [p for p in held_out if p.scenario.scenario == "concurrency" and p.scenario.load <= 64]
    slo = [p for p in held_out if p.key.startswith(SLO_POINT + "|") and p.scenario.scenario == "slo"]
    assert len(slo) == 1
    comparisons = compare([*sample(pool, ACCURACY_SAMPLE, seed=5), *slo])
    table = error_table(comparisons)
    for family, bound in ACCURACY_BOUNDS.items():
        assert table[f"{family} [holdout]"]["median_abs_pct"] <= bound, (family, table)
    assert abs(next(c for c in comparisons if c.family == "slo capacity").error) * 100 <= SLO_BOUND


# The same for offline throughput at MLPerf scale, where sizing's large batches are judged: six
# held-out MLPerf v4.1/v5.1 Offline results (TensorRT-LLM on H100/H200/B200, vLLM on MI300X/MI325X),
# drawn once with a fixed seed. Bound: the sample's median with the shipped calibration, rounded up.
OFFLINE_SAMPLE = 6
# measured 8.0 % (-6.8, -0.9, -7.4, -8.5, -36.5, -21.9 %) since TensorRT-LLM admits a request only
# when its whole answer fits (GUARANTEED_NO_EVICT: no preemption, no recompute), vllm-rocm's refit,
# TensorRT-LLM's CUDA-graph refit and its KV cache sized from the memory the model leaves; 16.7 % before (-15.4, +0.3, -16.5, -16.9, -18.8, -26.1 %); 23.1 % on main before throughput
# became the long-run rate (-21.8, -9.0, -22.9, -23.2, -38.1, -31.6 %)
OFFLINE_BOUND = 10.5


def test_held_out_offline_throughput_does_not_drop() -> None:
    pool = [
        p
        for p in load_points(split="holdout")
        if p.scenario.scenario == "offline" and p.key.startswith("MLPERF:") and p.scenario.num_gpus <= 8
    ]
    comparisons = compare(sample(pool, OFFLINE_SAMPLE, seed=3))
    errors = sorted(abs(c.error) * 100 for c in comparisons if c.family == "throughput")
    assert len(errors) == OFFLINE_SAMPLE
    median = (errors[2] + errors[3]) / 2
    assert median <= OFFLINE_BOUND, errors


def test_the_error_table_splits_throughput_by_its_kind_of_run() -> None:
    held_out = load_points(split="holdout")
    offline = next(
        p for p in held_out if p.scenario.scenario == "offline" and p.key.startswith("MLPERF:v4.1")
    )
    rate = next(p for p in held_out if p.scenario.scenario == "rate" and p.key.startswith("MLPERF:v4.1"))
    comparisons = compare([offline, rate])
    table = error_table(comparisons)
    assert table["throughput [holdout]"]["n"] == 2
    assert table["throughput: offline [holdout]"]["n"] == 1
    assert table["throughput: at a published rate [holdout]"]["n"] == 1
    off = next(c for c in comparisons if c.point is offline and c.family == "throughput")
    assert table["throughput: offline [holdout]"]["median_abs_pct"] == abs(off.error) * 100
