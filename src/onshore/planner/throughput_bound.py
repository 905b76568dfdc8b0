"""An upper bound of the requests/s one replica can complete, from the step model alone.

The sizing sweep (:mod:`onshore.planner.sweep`) skips a configuration once its cheapest possible
fleet is dearer than the top five found, so the tighter this bound, the fewer configurations are
simulated. The older bound (``sizing._setup``'s decode-only throughput at the KV cache's batch)
leaves out prefill, which is most of the work at Korea's 1,200 / 400 tokens: with it, 23 of the
Korea example's 32 configurations were simulated; with this one, 5.

What the simulator charges every request, whatever the schedule (``sim/engine.py``): its prompt
minus the cached prefix and its output minus one as tokens; one sequence slot in at least
``output`` steps; ``sum(ctx + 1)`` attention pairs and positions over its decode tokens and at
least ``prompt`` positions for its prefill. A step holds at most ``max_seqs`` sequences, at most
``budget`` tokens, and sequences whose contexts sum to at most the KV cache's tokens, which bounds
from below the steps a request's decodes must be spread over. Each step costs
``max(gemm flops, weight reads) + max(attention flops, KV reads) + comm + host`` (``StepModel``);
a sum of maxima is at least the maximum of the sums, GEMM efficiency is at most
``compute_eff``, and the attention work of a length is convex in it, so costing the mean lengths
gives a lower bound of the mean time per request (Jensen) and ``1 / that`` an upper bound of the
rate. It holds for the long-run rate; a short simulated run can seem to sustain more (a few
batches started together, a 10 s probe that does not show a 20 % overload), so the sizing search
never probes above it (``BatchTuner.plan``) and ``sizing.evaluate`` clips to it, which also keeps
the sweep's pruning exact.
"""

from __future__ import annotations

import math

from onshore.planner.perf.kv import BLOCK_TOKENS
from onshore.planner.perf.roofline import StepModel
from onshore.planner.sim import EngineConfig


def replica_rate(
    step: StepModel, cfg: EngineConfig, prompt_mean: float, output_mean: float, prefix_hit_rate: float
) -> float:
    """``max_rate`` of one replica run with ``cfg`` (its max batch, KV cache and token budget)."""
    # an unchunked engine widens its budget to fit its longest prompt (sim/engine.py): no limit here
    budget = max(cfg.max_batched_tokens, cfg.max_num_seqs) if cfg.chunked_prefill else math.inf
    kv = float(cfg.kv_blocks * BLOCK_TOKENS)
    return max_rate(step, prompt_mean, output_mean, prefix_hit_rate, cfg.max_num_seqs, kv, budget)


def max_rate(
    step: StepModel,
    prompt_mean: float,
    output_mean: float,
    prefix_hit_rate: float,
    max_seqs: float,
    kv_tokens: float,
    budget: float,
) -> float:
    """Requests/s one replica can sustain at most with batches of at most ``max_seqs``, a KV cache
    of ``kv_tokens`` and ``budget`` tokens a step (mean lengths; ``prefix_hit_rate`` cached)."""
    p, o = max(prompt_mean, 1.0), max(output_mean, 1.0)
    hit = min(max(prefix_hit_rate, 0.0), 1.0)
    tokens = max(p * (1.0 - hit), 1.0) + (o - 1.0)
    # decodes at contexts p, p + 1, ..., p + o - 2: each costs ctx + 1 pairs and positions
    decode_ctx = (o - 1.0) * p + (o - 1.0) * (o - 2.0) / 2.0
    decode_pairs = decode_ctx + (o - 1.0)
    prefill_pairs = (1.0 - hit * hit) * p * p / 2.0
    steps = max(o / max(max_seqs, 1.0), decode_ctx / max(kv_tokens, 1.0), tokens / max(budget, 1.0))
    tp, cal = step.spec.tp, step.cal
    flops = (step.linear_flops_per_token * tokens + step.lm_head_flops_per_seq * o) / tp
    gemm = max(flops / (step.gemm_peak * cal.compute_eff), steps * step.dense_weight_bytes / step.mem_bw)
    attn = max(
        step.attn_flops_per_pair_full * (prefill_pairs + decode_pairs) / (step.attn_peak * cal.attn_eff),
        step.kv_bytes_per_pos_full * (p + decode_pairs) / step.mem_bw,
    )
    comm = step.allreduce_count * (cal.allreduce_us * 1e-6 * steps + step.allreduce_bytes_per_token * tokens)
    # the least a step can cost: replayed from a CUDA graph where the engine has them
    host = steps * (step.fixed_s - step.graph_saving_s) + cal.seq_us * 1e-6 * o * step.token_share
    return 1.0 / (gemm + attn + comm + host)
