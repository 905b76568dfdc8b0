"""Engine catalog: each serving engine's scheduler defaults as it ships, per GPU class.

A planner that runs every engine with one hand-picked batch limit under-rates engines that ship
larger ones (TensorRT-LLM's default maximum batch is 2,048, not 256). Each row of
``data/engines.csv`` gives one engine's defaults for one usage context (``serve``: the
OpenAI-compatible server; ``offline``: the in-process batch API) and one range of GPU memory, and
cites the file and version it was read from. The engines choose their defaults from the GPU's
memory (vLLM: 70 GiB and not an A100; SGLang: 35 / 60 / 160 GiB), so a row applies to GPUs with
at least ``min_hbm_gib`` of memory and whose id is not in ``exclude_gpus``; the most specific
(largest ``min_hbm_gib``) matching row wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from onshore.planner.catalog._csv import num, read_rows
from onshore.planner.catalog.gpus import Gpu
from onshore.planner.errors import PlannerError

CONTEXTS = ("serve", "offline")
_GIB_PER_GB = 1e9 / 2**30  # catalog HBM is in GB (10^9 bytes); engines compare GiB
_ALIASES = {"vllm-v1": "vllm", "tensorrt-llm": "trtllm", "trt-llm": "trtllm", "sgl": "sglang"}


@dataclass(frozen=True, slots=True)
class EngineDefaults:
    """One engine's shipped scheduler limits for a usage context and a GPU memory range.

    ``max_num_seqs`` is vLLM's ``max_num_seqs`` / TensorRT-LLM's ``max_batch_size`` / SGLang's
    ``max_running_requests`` ceiling; ``max_num_batched_tokens`` the token budget per step
    (``max_num_tokens``, ``chunked_prefill_size``). ``seqs_kv_fraction`` > 0 caps the batch at that
    fraction of the KV capacity in tokens (SGLang's ``max_total_num_tokens // 2``). ``admission``
    is what a request must find free in the KV cache to start: ``prompt`` (vLLM, SGLang: its
    prompt's blocks; a sequence that then runs out is preempted) or ``whole_request`` (TensorRT-LLM's
    GUARANTEED_NO_EVICT capacity scheduler: the blocks to finish it, prompt plus answer).
    ``kv_memory`` is what the KV cache's 0.9 share is of: the GPU's ``total`` memory (vLLM's
    ``gpu_memory_utilization``, SGLang's ``mem_fraction_static``) or what the loaded model leaves
    ``free`` (TensorRT-LLM's ``free_gpu_memory_fraction``).
    """

    engine: str
    context: str
    min_hbm_gib: float
    exclude_gpus: tuple[str, ...]
    max_num_seqs: int
    max_num_batched_tokens: int
    chunked_prefill: bool
    cuda_graph_max_bs: int
    cuda_graph_max_bs_tp4: int
    seqs_kv_fraction: float
    admission: str
    kv_memory: str
    version: str
    source: str
    notes: str

    def applies_to(self, g: Gpu) -> bool:
        return g.hbm_gb * _GIB_PER_GB >= self.min_hbm_gib and g.id not in self.exclude_gpus

    @property
    def reserves_whole_request(self) -> bool:
        """Whether a request starts only once the blocks to finish it are free (TensorRT-LLM)."""
        return self.admission == "whole_request"

    @property
    def kv_of_free(self) -> bool:
        """Whether the KV cache's share is of the memory the loaded model leaves (TensorRT-LLM)."""
        return self.kv_memory == "free"

    def max_seqs(self, kv_tokens: int) -> int:
        """The engine's batch ceiling on a replica that caches ``kv_tokens`` tokens."""
        if self.seqs_kv_fraction > 0:
            return max(1, min(self.max_num_seqs, int(kv_tokens * self.seqs_kv_fraction)))
        return self.max_num_seqs

    def cuda_graph_batch(self, tp: int) -> int:
        """Largest decode batch captured in a CUDA graph at this tensor parallelism."""
        return (
            self.cuda_graph_max_bs_tp4 if tp >= 4 and self.cuda_graph_max_bs_tp4 else self.cuda_graph_max_bs
        )


ADMISSIONS = ("prompt", "whole_request")
KV_MEMORY = ("total", "free")


def _choice(row: dict[str, str], column: str, allowed: tuple[str, ...], default: str) -> str:
    value = (row.get(column) or default).strip()
    if value not in allowed:
        raise PlannerError(f"engine catalog: {column} {value!r} is not one of {', '.join(allowed)}")
    return value


def _parse(row: dict[str, str]) -> EngineDefaults:
    context = row["context"].strip()
    if context not in CONTEXTS:
        raise PlannerError(f"engine catalog: context {context!r} is not one of {', '.join(CONTEXTS)}")
    return EngineDefaults(
        engine=row["engine"].strip().lower(),
        context=context,
        min_hbm_gib=num(row, "min_hbm_gib"),
        exclude_gpus=tuple(x.strip() for x in row.get("exclude_gpus", "").split(";") if x.strip()),
        max_num_seqs=int(num(row, "max_num_seqs")),
        max_num_batched_tokens=int(num(row, "max_num_batched_tokens")),
        chunked_prefill=row["chunked_prefill"].strip().lower() == "true",
        cuda_graph_max_bs=int(num(row, "cuda_graph_max_bs")),
        cuda_graph_max_bs_tp4=int(num(row, "cuda_graph_max_bs_tp4")),
        seqs_kv_fraction=num(row, "seqs_kv_fraction"),
        admission=_choice(row, "admission", ADMISSIONS, "prompt"),
        kv_memory=_choice(row, "kv_memory", KV_MEMORY, "total"),
        version=row["version"].strip(),
        source=row["source"].strip(),
        notes=row.get("notes", "").strip(),
    )


@cache
def _packaged() -> tuple[EngineDefaults, ...]:
    return tuple(map(_parse, read_rows("engines.csv")))


def load_engines(path: Path | None = None) -> tuple[EngineDefaults, ...]:
    """Every row, from the packaged catalog or an edited copy at ``path``."""
    return _packaged() if path is None else tuple(map(_parse, read_rows("engines.csv", path)))


def engine_ids() -> tuple[str, ...]:
    return tuple(sorted({r.engine for r in _packaged()}))


def engine_defaults(engine: str, g: Gpu, context: str = "serve") -> EngineDefaults:
    """The defaults ``engine`` ships for GPU ``g`` in ``context`` (``offline`` falls back to
    ``serve`` for engines whose batch API uses the server's defaults, as SGLang's does)."""
    key = engine.strip().lower()
    key = _ALIASES.get(key, key)
    rows = [r for r in _packaged() if r.engine == key]
    if not rows:
        raise PlannerError(f"unknown engine {engine!r}; known: {', '.join(engine_ids())}")
    for ctx in (context, "serve"):
        fits = [r for r in rows if r.context == ctx and r.applies_to(g)]
        if fits:
            return max(fits, key=lambda r: r.min_hbm_gib)
    raise PlannerError(f"the engine catalog has no {key} row for {g.id}")
