"""The shape of a scenario's traffic: its length distributions and its prefix-cache hits.

A scenario row (``plan predict``) or a demand (``plan size``) gives lengths one of three ways, the
first that is set winning: a named ``dataset`` profile (``catalog/data/datasets.csv``), per-side
distribution specs (``input_dist``/``output_dist``, see
:func:`onshore.planner.sim.lengths.parse_dist`), or today's constants ``input_len``/``output_len``.
A side without a spec keeps its constant. Prefix caching comes either as a hit rate (every
prompt's first ``hit_rate`` is cached) or from ``chat_turns``: multi-turn conversations whose hit
rate follows from re-sent history (:mod:`onshore.planner.sim.chat`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from onshore.planner.catalog.datasets import dataset
from onshore.planner.demand import Demand
from onshore.planner.errors import PlannerError
from onshore.planner.perf.kv import BLOCK_TOKENS
from onshore.planner.sim import workload as wl
from onshore.planner.sim.chat import chat
from onshore.planner.sim.lengths import LengthDist, fixed, parse_dist

COLUMNS = ("dataset", "input_dist", "output_dist", "prefix_cache_hit_rate", "chat_turns", "think_s")


@dataclass(frozen=True, slots=True)
class Shape:
    """Optional traffic-shape settings; the defaults leave a scenario as it always was."""

    dataset: str = ""
    input_dist: str = ""
    output_dist: str = ""
    prefix_cache_hit_rate: float = 0.0
    chat_turns: int = 0
    think_s: float = 30.0

    @property
    def shaped(self) -> bool:
        """Whether lengths come from a dataset or a spec rather than from constants."""
        return bool(self.dataset or self.input_dist or self.output_dist)

    def lengths(self, input_len: int, output_len: int) -> tuple[LengthDist, LengthDist]:
        """Input and output distributions (constants where nothing else is set)."""
        if self.dataset:
            d = dataset(self.dataset)
            return d.input, d.output
        prompt = parse_dist(self.input_dist) if self.input_dist else fixed(input_len)
        output = parse_dist(self.output_dist) if self.output_dist else fixed(output_len)
        return prompt, output

    def open_loop(
        self,
        rng: np.random.Generator,
        rate: float,
        n: int,
        prompt: LengthDist,
        output: LengthDist,
        max_context: int = 131072,
    ) -> wl.Workload:
        """Poisson arrivals at ``rate`` requests/s, or chat conversations making that rate.

        In a chat, ``prompt`` is each new user message and ``max_context`` caps the re-sent history.
        """
        if self.chat_turns:
            turns, think = self.chat_turns, self.think_s
            return chat(rng, rate, n, turns, prompt, output, think, 0, max_context, BLOCK_TOKENS)
        return self.with_hits(wl.poisson(rng, rate, n, prompt, output))

    def with_hits(self, work: wl.Workload) -> wl.Workload:
        """``work`` with this shape's prefix-cache hit rate (itself when the rate is 0)."""
        return wl.with_prefix_hits(work, self.prefix_cache_hit_rate, BLOCK_TOKENS)


def reshape(demand: Demand, shape: Shape) -> Demand:
    """``demand`` with the shape's lengths where it sets them, and its prefix-cache hit rate."""
    check(shape)
    if shape.chat_turns:
        raise PlannerError("sizing takes a prefix-cache hit rate, not chat turns")
    prompt, output = demand.prompt, demand.output
    if shape.dataset:
        prompt, output = dataset(shape.dataset).input, dataset(shape.dataset).output
    prompt = parse_dist(shape.input_dist) if shape.input_dist else prompt
    output = parse_dist(shape.output_dist) if shape.output_dist else output
    return replace(demand, prompt=prompt, output=output, prefix_hit_rate=shape.prefix_cache_hit_rate)


def _float(row: dict[str, str], key: str, default: float) -> float:
    cell = (row.get(key) or "").strip()
    try:
        return float(cell) if cell else default
    except ValueError:
        raise PlannerError(f"column {key!r}: {cell!r} is not a number") from None


def parse_shape(row: dict[str, str]) -> Shape:
    """The shape columns of a scenario row (all optional), validated."""
    turns = _float(row, "chat_turns", 0.0)
    shape = Shape(
        dataset=(row.get("dataset") or "").strip(),
        input_dist=(row.get("input_dist") or "").strip(),
        output_dist=(row.get("output_dist") or "").strip(),
        prefix_cache_hit_rate=_float(row, "prefix_cache_hit_rate", 0.0),
        chat_turns=int(turns),
        think_s=_float(row, "think_s", 30.0),
    )
    check(shape)
    return shape


def check(shape: Shape) -> None:
    """Raise PlannerError on settings that contradict each other or are out of range."""
    if shape.dataset and (shape.input_dist or shape.output_dist):
        raise PlannerError("give either dataset or input_dist/output_dist, not both")
    if not 0.0 <= shape.prefix_cache_hit_rate <= 1.0:
        raise PlannerError("prefix_cache_hit_rate must be between 0 and 1")
    if shape.chat_turns < 0 or shape.think_s < 0:
        raise PlannerError("chat_turns and think_s must be >= 0")
    if shape.chat_turns and shape.prefix_cache_hit_rate:
        raise PlannerError("with chat_turns the hit rate follows from the turns; drop prefix_cache_hit_rate")
    if shape.dataset:
        dataset(shape.dataset)
    for spec in (shape.input_dist, shape.output_dist):
        if spec:
            parse_dist(spec)
