"""Sizing search, executors, report writing and the calibration fit."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from onshore.planner.cost import CostInputs
from onshore.planner.demand import UserDemand, from_users
from onshore.planner.errors import PlannerError
from onshore.planner.executor import LocalProcessExecutor, SerialExecutor
from onshore.planner.perf.calibration import Calibration, load, save
from onshore.planner.perf.fit import fit
from onshore.planner.report import sizing_json, write_report
from onshore.planner.sizing import Candidate, SizingJob, Slo, default_candidates, evaluate, size

DEMAND = from_users(UserDemand(mau=2e5, prompt_mean=500, output_mean=150))


def _square(x: int) -> int:
    return x * x


def test_executors_return_every_result() -> None:
    assert sorted(SerialExecutor().map_unordered(_square, [1, 2, 3])) == [(0, 1), (1, 4), (2, 9)]
    assert sorted(LocalProcessExecutor(2).map_unordered(_square, [1, 2, 3])) == [(0, 1), (1, 4), (2, 9)]


def test_candidates_skip_fp4_on_gpus_without_fp4_cores() -> None:
    cands = default_candidates(["h100", "b200"], [1, 2], ["fp8", "fp4"], [256])
    assert Candidate("h100", 1, "fp4", 256) not in cands
    assert Candidate("b200", 2, "fp4", 256) in cands
    assert len(cands) == 6


def test_size_finds_a_fleet_that_meets_the_slo(tmp_path: Path) -> None:
    cands = [Candidate("h100", 1, "fp8", 128), Candidate("h100", 1, "bf16", 128)]
    res = size("llama-3.1-8b", DEMAND, Slo(2000, 80), cands, SerialExecutor())
    best = res.best
    assert best is not None and best.cost is not None
    assert best.replicas == math.ceil(DEMAND.peak_rps / best.rate_per_replica) or best.replicas >= 1
    assert best.at_peak["tpot_p99_ms"] <= 80 * 1.1
    assert best.cost.gpus == best.replicas
    data = sizing_json(res, {"mau": 2e5})
    assert data["best"]["cost"]["gpus"] == best.cost.gpus
    md = write_report(res, tmp_path)
    assert md.read_text().startswith("# Capacity plan")
    assert json.loads((tmp_path / "report.json").read_text())["model"] == "llama-3.1-8b"
    for svg in ("latency_vs_load.svg", "cost_vs_slo.svg", "fleet.svg"):
        assert (tmp_path / svg).read_text().startswith("<svg")


def test_infeasible_candidates_say_why() -> None:
    res = size("llama-3.1-405b", DEMAND, Slo(), [Candidate("h100", 1, "fp8")], SerialExecutor())
    assert res.best is None
    assert "does not fit" in res.results[0].reason
    with pytest.raises(PlannerError):
        size("llama-3.1-8b", DEMAND, Slo(), [], SerialExecutor())


def test_fit_recovers_known_parameters() -> None:
    truth = Calibration(mem_eff=0.62, step_ms=3.5)
    xs = np.linspace(1, 200, 25)

    def model(cal: Calibration) -> np.ndarray:  # type: ignore[type-arg]
        return xs * 1e9 / (3e12 * cal.mem_eff) + cal.step_ms * 1e-3

    target = model(truth)
    got, rms = fit(lambda c: np.log(model(c) / target), Calibration(), ["mem_eff", "step_ms"], iterations=30)
    assert got.mem_eff == pytest.approx(0.62, rel=0.02)
    assert got.step_ms == pytest.approx(3.5, rel=0.02)
    assert rms < 1e-3


def test_calibration_round_trips_through_json(tmp_path: Path) -> None:
    path = tmp_path / "cal.json"
    save({"vllm": Calibration(mem_eff=0.7), "trtllm": Calibration(step_ms=1.0)}, path, {"note": "test"})
    assert load(path, "vllm").mem_eff == 0.7
    assert load(path, "trtllm").step_ms == 1.0
    assert load(path, "unknown").mem_eff == 0.7
    path.write_text("not json")
    with pytest.raises(PlannerError):
        load(path)


def test_shipped_calibration_has_a_profile_per_engine() -> None:
    from onshore.planner.perf.calibration import shipped

    vllm, trt, sgl = shipped("vllm"), shipped("trtllm"), shipped("sglang")
    assert len({vllm, trt, sgl}) == 3
    assert shipped("unknown-engine") == vllm
    for cal in (vllm, trt, sgl):
        assert 0 < cal.mem_eff <= 1 and 0 < cal.compute_eff <= 1


def test_calibration_profiles_fitted_apart_merge_into_one_file(tmp_path: Path) -> None:
    from onshore.planner.validation.calibrate import main

    save({"vllm": Calibration(mem_eff=0.6)}, tmp_path / "a.json")
    save({"trtllm": Calibration(mem_eff=0.7)}, tmp_path / "b.json")
    out = tmp_path / "merged.json"
    assert main(["--merge", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--out", str(out)]) == 0
    assert load(out, "vllm").mem_eff == 0.6
    assert load(out, "trtllm").mem_eff == 0.7


def test_the_max_batch_starts_at_the_engine_default_and_tuning_never_lowers_capacity() -> None:
    def job(seqs: int) -> SizingJob:
        cand = Candidate("h100", 1, "fp8", seqs)
        return SizingJob(
            "llama-3.1-8b", cand, DEMAND, Slo(2000, 30), CostInputs(), sim_replicas=2, requests=400
        )

    fixed, auto = evaluate(job(1024)), evaluate(job(0))
    assert fixed.feasible and auto.feasible
    assert fixed.max_num_seqs == 1024  # vLLM's default on an H100
    assert auto.rate_per_replica >= fixed.rate_per_replica
    assert auto.max_num_seqs >= 8 and f"seqs{auto.max_num_seqs}" in auto.label
