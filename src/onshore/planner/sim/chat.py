"""Multi-turn chat: each turn re-sends the conversation so far, so its prefix is in the cache.

A conversation of ``turns`` turns: turn ``k``'s prompt is turn ``k-1``'s prompt, plus turn ``k-1``'s
answer, plus a new user message (plus a ``system`` prompt sent with every turn). Everything but
the new message was in the KV cache when the previous answer finished, so that prefix is a hit
(rounded down to whole KV blocks, as vLLM's automatic prefix caching reuses full blocks). The
hit rate is therefore not a parameter: it follows from the turns and their lengths.

Arrivals are open loop: conversations start as a Poisson process, and each next turn is sent a
think time (exponential, mean ``think_s``) after the previous one was sent. A real user waits for
the answer first; with think times of tens of seconds and answers of a few seconds the difference
is small, and it keeps every replica independent (the simulator routes requests up front).
Conversations start early enough before time 0 that the requests kept (those from time 0 on)
are the steady state: every turn number as frequent as it will be, at ``rate`` requests/s.

What is assumed: the prefix survives between turns (no eviction under KV pressure; a real cache
can lose it) and each turn reaches the replica that holds its conversation's cache (sticky or
prefix-aware routing, as SGLang's router and llm-d do; round-robin across replicas would miss).
A conversation longer than ``max_context`` drops its oldest turns, which changes the prefix: that
turn is a miss.
"""

from __future__ import annotations

import numpy as np

from onshore.planner.errors import PlannerError
from onshore.planner.sim.lengths import LengthDist
from onshore.planner.sim.workload import Workload


def chat(
    rng: np.random.Generator,
    rate: float,
    n: int,
    turns: int,
    message: LengthDist,
    answer: LengthDist,
    think_s: float = 30.0,
    system: int = 0,
    max_context: int = 131072,
    block_tokens: int = 16,
) -> Workload:
    """``n`` requests at ``rate`` requests/s in all, from conversations of ``turns`` turns each.

    ``message`` is the length of each new user message, ``answer`` the length of each answer.
    """
    if rate <= 0 or turns < 1 or n < 1 or think_s < 0 or system < 0:
        raise PlannerError("chat needs rate > 0, turns >= 1, n >= 1, think_s >= 0 and system >= 0")
    warmup = 4.0 * think_s * (turns - 1)  # 4 means: nearly every conversation started by then
    convs = int(np.ceil((n + rate * warmup) * 1.1 / turns)) + 10
    start = np.cumsum(rng.exponential(turns / rate, convs)) - warmup
    gaps = rng.exponential(think_s, (convs, turns)) if think_s > 0 else np.zeros((convs, turns))
    gaps[:, 0] = 0.0
    arrival = start[:, None] + np.cumsum(gaps, axis=1)
    user = message.sample(rng, convs * turns).reshape(convs, turns)
    out = answer.sample(rng, convs * turns).reshape(convs, turns)
    # tokens before turn k's new message: the system prompt and every earlier message and answer
    history = system + np.cumsum(user + out, axis=1) - (user + out)
    prompt = history + user
    cached = np.where(np.arange(turns) > 0, (history // block_tokens) * block_tokens, 0)
    if system:
        cached = np.maximum(cached, (system // block_tokens) * block_tokens)  # a shared system prompt
    over = prompt > max_context
    prompt = np.minimum(prompt, max_context)
    cached = np.where(over, 0, np.minimum(cached, prompt - 1))
    order = np.argsort(arrival.ravel(), kind="stable")
    order = order[arrival.ravel()[order] >= 0.0][:n]
    if len(order) < n:  # cannot happen with the margin above; kept as a guard
        raise PlannerError("chat generated fewer requests than asked")
    t = arrival.ravel()[order]
    return Workload(
        prompt.ravel()[order].astype(np.int64),
        out.ravel()[order].astype(np.int64),
        t - t[0],
        cached=cached.ravel()[order].astype(np.int64),
    )
