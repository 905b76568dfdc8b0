"""The engine catalog: shipped scheduler defaults, each cited, and what predictions run with."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from onshore.planner.catalog import engine_defaults, gpu, load_engines, model
from onshore.planner.errors import PlannerError
from onshore.planner.perf.calibration import Calibration
from onshore.planner.perf.kv import kv_capacity_blocks, kv_capacity_tokens
from onshore.planner.perf.roofline import ReplicaSpec, StepModel
from onshore.planner.predict import engine_config, parse_row
from onshore.planner.sim import EngineConfig, LengthDist, SimResult, offline, simulate

ROW = {
    "model": "llama-3.1-70b",
    "gpu": "h100",
    "num_gpus": "8",
    "tensor_parallel": "8",
    "precision": "fp8",
    "input_len": "1024",
    "output_len": "128",
    "scenario": "rate",
    "load": "5",
}


def test_every_engine_default_cites_its_source_and_version() -> None:
    rows = load_engines()
    assert {r.engine for r in rows} == {"vllm", "trtllm", "sglang"}
    for r in rows:
        assert r.source.startswith("https://github.com/"), r
        assert r.version.strip(), r
        assert r.max_num_seqs > 0 and r.max_num_batched_tokens > 0 and r.cuda_graph_max_bs > 0, r


def test_the_documented_defaults_of_each_engine() -> None:
    h100, a100, b200 = gpu("h100"), gpu("a100"), gpu("b200")
    vllm = engine_defaults("vllm", h100)
    assert (vllm.max_num_seqs, vllm.max_num_batched_tokens, vllm.chunked_prefill) == (1024, 8192, True)
    # vLLM keeps the small defaults on A100 (and GPUs under 70 GiB), larger ones offline
    assert (
        engine_defaults("vllm", a100).max_num_seqs,
        engine_defaults("vllm", a100).max_num_batched_tokens,
    ) == (
        256,
        2048,
    )
    assert engine_defaults("vllm", h100, "offline").max_num_batched_tokens == 16384
    trt = engine_defaults("trtllm", h100)
    assert (trt.max_num_seqs, trt.max_num_batched_tokens, trt.chunked_prefill) == (2048, 8192, False)
    assert trt.cuda_graph_batch(1) == 128
    sgl = engine_defaults("sglang", h100)
    assert (
        sgl.max_num_batched_tokens == 8192 and engine_defaults("sglang", b200).max_num_batched_tokens == 16384
    )
    assert (sgl.cuda_graph_batch(1), sgl.cuda_graph_batch(8)) == (256, 512)
    assert sgl.max_seqs(kv_tokens=1000) == 500  # max_total_num_tokens // 2
    assert engine_defaults("sglang", h100, "offline") == sgl  # its batch API uses the server's
    with pytest.raises(PlannerError, match="unknown engine"):
        engine_defaults("tgi", h100)


def test_changing_the_engine_changes_the_default_the_simulation_runs() -> None:
    spec = ReplicaSpec(model("llama-3.1-70b"), gpu("h100"), 8, "fp8")
    cfgs = {e: engine_config(parse_row({**ROW, "engine": e}), spec) for e in ("vllm", "trtllm", "sglang")}
    assert cfgs["vllm"].max_num_seqs == 1024
    assert cfgs["trtllm"].max_num_seqs == 2048 and not cfgs["trtllm"].chunked_prefill
    assert cfgs["sglang"].max_num_seqs == min(4096, kv_capacity_tokens(spec) // 2)
    assert len({dataclasses.astuple(c) for c in cfgs.values()}) == 3
    # a row's own limits override the engine's
    own = engine_config(parse_row({**ROW, "engine": "trtllm", "max_num_seqs": "64"}), spec)
    assert own.max_num_seqs == 64


def test_without_chunked_prefill_a_prompt_runs_whole_in_one_step() -> None:
    spec = ReplicaSpec(model("llama-3.1-8b"), gpu("h100"), 1, "fp8")
    step = StepModel.build(spec, Calibration(request_ms=0.0))
    chunked = EngineConfig(kv_blocks=kv_capacity_blocks(spec), max_num_seqs=8, max_batched_tokens=512)
    whole = dataclasses.replace(chunked, chunked_prefill=False)

    def run(cfg: EngineConfig, n: int) -> SimResult:
        rng = np.random.default_rng(0)
        return simulate(step, cfg, offline(rng, n, LengthDist(2048), LengthDist(4)), 1, rng)

    # one 2,048-token prompt: four 512-token chunks, or one step of 2,048 once the budget is raised
    # to fit it (an unchunked engine must be built so); the single step costs less fixed overhead
    lone_chunked, lone_whole = run(chunked, 1), run(whole, 1)
    assert lone_whole.iterations < lone_chunked.iterations
    assert lone_whole.first_token[0] == pytest.approx(float(step.prefill_step(2048.0)), rel=0.05)
    # eight prompts at once: unchunked, every first token comes at the end of a whole-prompt step
    many = run(whole, 8)
    assert not np.isnan(many.finish).any()
    assert many.max_batch_tokens >= 2048 + 8


def test_tensorrt_llm_admits_a_request_only_when_its_whole_answer_fits() -> None:
    # TensorRT-LLM's GUARANTEED_NO_EVICT reserves the blocks to finish a request; vLLM admits on
    # its prompt's blocks and preempts the newest sequence when the cache runs out
    assert engine_defaults("trtllm", gpu("h100")).admission == "whole_request"
    assert {engine_defaults(e, gpu("h100")).admission for e in ("vllm", "sglang")} == {"prompt"}
    spec = ReplicaSpec(model("llama-3.1-70b"), gpu("h100"), 8, "fp8")
    assert engine_config(parse_row({**ROW, "engine": "trtllm"}), spec).reserve_whole_request
    assert not engine_config(parse_row({**ROW, "engine": "vllm"}), spec).reserve_whole_request

    step = StepModel.build(ReplicaSpec(model("llama-3.1-8b"), gpu("h100"), 1, "fp8"), Calibration())
    # two requests of 32 + 64 tokens (6 blocks each) in a 10-block cache
    vllm_like = EngineConfig(kv_blocks=10, max_num_seqs=8, max_batched_tokens=512)
    trt_like = dataclasses.replace(vllm_like, reserve_whole_request=True)

    def run(cfg: EngineConfig) -> SimResult:
        rng = np.random.default_rng(0)
        return simulate(step, cfg, offline(rng, 2, LengthDist(32), LengthDist(64)), 1, rng)

    evicting, reserving = run(vllm_like), run(trt_like)
    assert evicting.preemptions > 0  # both started on their prompts; one was evicted to grow
    assert reserving.preemptions == 0
    # the second request starts only once the first has finished and freed its blocks
    order = np.argsort(reserving.first_token)
    assert reserving.first_token[order[1]] >= reserving.finish[order[0]]
    assert reserving.max_kv_blocks_used <= 10


def test_tensorrt_llm_sizes_its_kv_cache_from_the_memory_the_model_leaves() -> None:
    # vLLM: gpu_memory_utilization 0.9 of the whole GPU; TensorRT-LLM: free_gpu_memory_fraction 0.9
    # of what the loaded model leaves free. Llama 3.1 70B FP8 on one H200: 57.7 vs 64.6 GiB.
    assert engine_defaults("trtllm", gpu("h200")).kv_of_free
    assert not any(engine_defaults(e, gpu("h200")).kv_of_free for e in ("vllm", "sglang"))
    spec = ReplicaSpec(model("llama-3.1-70b"), gpu("h200"), 1, "fp8")
    weights = 70.55e9 / 2**30  # the catalog's parameters at one byte each
    per_token = 80 * 8 * 128 * 2 * 1.0  # layers x KV heads x head dim x (K, V) x FP8
    assert kv_capacity_tokens(spec) == pytest.approx(
        (141 * 0.9 - 3.5 - weights) * 2**30 / per_token, rel=0.01
    )
    free = kv_capacity_tokens(spec, of_free=True)
    assert free == pytest.approx((141 - 3.5 - weights) * 0.9 * 2**30 / per_token, rel=0.01)
    row = {**ROW, "gpu": "h200", "num_gpus": "1", "tensor_parallel": "1"}
    trt, vllm = (engine_config(parse_row({**row, "engine": e}), spec) for e in ("trtllm", "vllm"))
    assert (
        trt.kv_blocks == kv_capacity_blocks(spec, of_free=True) > vllm.kv_blocks == kv_capacity_blocks(spec)
    )
