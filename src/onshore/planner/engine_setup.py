"""A replica's step model and scheduler as its engine ships them, for ``predict`` and ``sizing``.

What an engine's catalog row means for one replica (how much KV it caches, how it admits, its
batch, token budget, chunking and CUDA-graph limits) is decided here once, so that a prediction
and a sizing search of the same configuration simulate the same engine.
"""

from __future__ import annotations

from onshore.planner.catalog import EngineDefaults
from onshore.planner.perf.calibration import Calibration
from onshore.planner.perf.kv import kv_block_overhead_per_seq, kv_capacity_blocks, kv_capacity_tokens
from onshore.planner.perf.roofline import ReplicaSpec, StepModel
from onshore.planner.sim import EngineConfig


def kv_tokens(spec: ReplicaSpec, d: EngineDefaults) -> int:
    """Tokens of context the replica caches under the engine's memory rule."""
    return kv_capacity_tokens(spec, of_free=d.kv_of_free)


def step_model(spec: ReplicaSpec, d: EngineDefaults, cal: Calibration) -> StepModel:
    """The step-time model, with the engine's CUDA-graph batch at this tensor parallelism."""
    return StepModel.build(spec, cal, d.cuda_graph_batch(spec.tp))


def engine_config(
    spec: ReplicaSpec, d: EngineDefaults, max_num_seqs: int = 0, max_batched_tokens: int = 0
) -> EngineConfig:
    """The scheduler as the engine ships it; a non-zero ``max_num_seqs`` / ``max_batched_tokens``
    overrides its default."""
    ranks = spec.dp_ranks  # each attention-DP rank runs the engine's scheduler with its defaults
    return EngineConfig(
        kv_blocks=kv_capacity_blocks(spec, of_free=d.kv_of_free),
        max_num_seqs=max_num_seqs or ranks * d.max_seqs(kv_tokens(spec, d) // ranks),
        max_batched_tokens=max_batched_tokens or ranks * d.max_num_batched_tokens,
        swa_blocks_per_seq=kv_block_overhead_per_seq(spec),
        chunked_prefill=d.chunked_prefill,
        reserve_whole_request=d.reserves_whole_request,
    )
