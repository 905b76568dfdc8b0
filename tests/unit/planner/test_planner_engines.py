"""The engine catalog: shipped scheduler defaults, each cited, and what predictions run with."""

from __future__ import annotations

import dataclasses

import pytest

from onshore.planner.catalog import engine_defaults, gpu, load_engines, model
from onshore.planner.errors import PlannerError
from onshore.planner.perf.kv import kv_capacity_tokens
from onshore.planner.perf.roofline import ReplicaSpec
from onshore.planner.predict import engine_config, parse_row

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
