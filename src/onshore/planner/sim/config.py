"""The scheduler limits of one simulated replica (apart from the engine, which re-exports it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Scheduler limits of one replica (vLLM names) and its KV capacity in blocks."""

    kv_blocks: int
    max_num_seqs: int = 256
    max_batched_tokens: int = 8192
    swa_blocks_per_seq: int = 0
    max_iterations: int = 20_000_000
    chunked_prefill: bool = True  # False: a prompt runs whole in one step (TensorRT-LLM's default)
    # True: a request starts only when the KV blocks to finish it (prompt and answer) are free, so
    # nothing is ever preempted (TensorRT-LLM's GUARANTEED_NO_EVICT); False: its prompt's (vLLM)
    reserve_whole_request: bool = False
