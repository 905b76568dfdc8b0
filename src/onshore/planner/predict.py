"""Predict one configuration: a scenario row in, the public metrics out.

A scenario row names a model, a GPU type, how many GPUs and the tensor-parallel degree
(``num_gpus / tensor_parallel`` replicas behind a round-robin router), a precision, fixed prompt
and output lengths, and a load: ``offline`` (every request at once), ``rate`` (Poisson,
``load`` requests/s for the whole system) or ``concurrency`` (``load`` closed-loop clients).
Optional shape columns (:mod:`onshore.planner.traffic`) replace the fixed lengths with a dataset
profile or distributions, and add prefix-cache hits or multi-turn chat. Optional ``disaggregated``
(``P:D`` replicas of ``tensor_parallel`` GPUs, or ``PxTP:DxTP``) serves it on separate prefill
and decode pools (:mod:`onshore.planner.disagg`); ``num_gpus`` must then be the pools' total.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from onshore.planner import disagg, traffic
from onshore.planner.catalog import gpu, model
from onshore.planner.errors import PlannerError
from onshore.planner.perf import calibration as calib
from onshore.planner.perf.kv import kv_block_overhead_per_seq, kv_capacity_blocks, kv_capacity_tokens
from onshore.planner.perf.roofline import ReplicaSpec, StepModel
from onshore.planner.sim import EngineConfig, Summary, simulate, summarise
from onshore.planner.sim import workload as wl

SCENARIOS = ("offline", "rate", "concurrency")
REQUIRED_COLUMNS = (
    "model",
    "gpu",
    "num_gpus",
    "tensor_parallel",
    "precision",
    "input_len",
    "output_len",
    "scenario",
    "load",
)
PUBLIC_METRICS = (
    "output_tokens_per_s",
    "requests_per_s",
    "ttft_p50_ms",
    "ttft_p99_ms",
    "tpot_mean_ms",
    "tpot_p99_ms",
)


@dataclass(frozen=True, slots=True)
class Scenario:
    """One row of a scenarios CSV (optional columns: engine, max_num_seqs, max_batched_tokens, requests)."""

    model: str
    gpu: str
    num_gpus: int
    tensor_parallel: int
    precision: str
    input_len: int
    output_len: int
    scenario: str
    load: float
    engine: str = "vllm"
    max_num_seqs: int = 0
    max_batched_tokens: int = 0  # 0: the engine profile's default
    requests: int = 0
    shape: traffic.Shape = field(default_factory=traffic.Shape)
    extra: dict[str, str] = field(default_factory=dict)
    disaggregated: str = ""  # "P:D" or "PxTP:DxTP": separate prefill and decode pools

    @property
    def replicas(self) -> int:
        return self.num_gpus // self.tensor_parallel


def _int(row: dict[str, str], key: str, default: int | None = None) -> int:
    cell = (row.get(key) or "").strip()
    if not cell:
        if default is None:
            raise PlannerError(f"column {key!r} is empty")
        return default
    try:
        return int(float(cell))
    except ValueError as exc:
        raise PlannerError(f"column {key!r}: {cell!r} is not a number") from exc


def parse_row(row: dict[str, str]) -> Scenario:
    """A validated :class:`Scenario` from a CSV row (raises PlannerError on bad input)."""
    shape = traffic.parse_shape(row)
    optional = [c for c, spec in (("input_len", shape.input_dist), ("output_len", shape.output_dist)) if spec]
    optional += ["input_len", "output_len"] if shape.dataset else []
    missing = [c for c in REQUIRED_COLUMNS if c not in row and c not in optional]
    if missing:
        raise PlannerError(f"scenario row lacks column(s): {', '.join(missing)}")
    kind = row["scenario"].strip().lower()
    if kind not in SCENARIOS:
        raise PlannerError(f"scenario {row['scenario']!r} is not one of {', '.join(SCENARIOS)}")
    try:
        load = float(row["load"]) if (row["load"] or "").strip() else 0.0
    except ValueError as exc:
        raise PlannerError(f"load {row['load']!r} is not a number") from exc
    s = Scenario(
        model=row["model"].strip(),
        gpu=row["gpu"].strip(),
        num_gpus=_int(row, "num_gpus"),
        tensor_parallel=_int(row, "tensor_parallel", 1),
        precision=row["precision"].strip(),
        # with a dataset or distributions these are ignored, and reported as the means
        input_len=_int(row, "input_len", 1 if "input_len" in optional else None),
        output_len=_int(row, "output_len", 1 if "output_len" in optional else None),
        scenario=kind,
        load=load,
        engine=(row.get("engine") or "vllm").strip() or "vllm",
        max_num_seqs=_int(row, "max_num_seqs", 0),
        max_batched_tokens=_int(row, "max_batched_tokens", 0),
        requests=_int(row, "requests", 0),
        shape=shape,
        disaggregated=(row.get("disaggregated") or "").strip(),
    )
    if s.disaggregated:
        _check_disaggregated(s)
    if shape.shaped:
        prompt, output = shape.lengths(s.input_len, s.output_len)
        s = replace(s, input_len=round(prompt.mean), output_len=round(output.mean))
    if shape.chat_turns and kind != "rate":
        raise PlannerError("chat_turns needs scenario rate (each turn arrives after the previous one)")
    if s.num_gpus < 1 or s.tensor_parallel < 1 or s.num_gpus % s.tensor_parallel:
        raise PlannerError(f"num_gpus {s.num_gpus} must be a positive multiple of tensor_parallel")
    if s.input_len < 1 or s.output_len < 1:
        raise PlannerError("input_len and output_len must be >= 1")
    if kind != "offline" and load <= 0:
        raise PlannerError(f"scenario {kind!r} needs load > 0")
    return s


def _check_disaggregated(s: Scenario) -> None:
    layout = disagg.Layout.parse(s.disaggregated, s.tensor_parallel)
    if layout.gpus != s.num_gpus:
        raise PlannerError(
            f"disaggregated {s.disaggregated!r} uses {layout.gpus} GPUs, not num_gpus {s.num_gpus}"
        )
    if s.scenario == "concurrency":
        raise PlannerError("disaggregated scenarios need scenario rate or offline")


def read_scenarios(path: Path) -> list[Scenario]:
    """Every row of a scenarios CSV file."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise PlannerError(f"cannot read {path}: {exc.strerror}") from exc
    if not rows:
        raise PlannerError(f"{path} has no scenario rows")
    return [parse_row(r) for r in rows]


def _budget(cal: calib.Calibration, scenario: str) -> int:
    """Token budget per step: the engine profile's serving default; offline (throughput) runs use
    at least 8192, as the offline entry points (vLLM's LLM class, trtllm-bench) default higher."""
    budget = int(cal.max_batched_tokens)
    return max(budget, 8192) if scenario == "offline" else budget


def _e2e_estimate(step: StepModel, s: Scenario, clients: int) -> float:
    """Rough latency of one request at this concurrency: its prefill plus its decode steps."""
    batch = max(clients / s.replicas, 1.0)
    ctx = s.input_len + s.output_len / 2.0
    return float(step.prefill_step(float(s.input_len)) + s.output_len * step.decode_step(batch, ctx))


def predict(
    s: Scenario, cal: calib.Calibration | None = None, seed: int = 0, stagger: float = 0.0
) -> Summary:
    """Simulate one scenario and summarise it."""
    spec = ReplicaSpec(model(s.model), gpu(s.gpu), s.tensor_parallel, s.precision)
    cal = cal or calib.shipped(s.engine)
    step = StepModel.build(spec, cal)
    per_replica = s.load / s.replicas
    if s.max_num_seqs:
        seqs = s.max_num_seqs
    elif s.scenario == "offline":
        seqs = 1024
    else:
        seqs = max(256, int(np.ceil(per_replica)) if s.scenario == "concurrency" else 256)
    cfg = EngineConfig(
        kv_blocks=kv_capacity_blocks(spec),
        max_num_seqs=seqs,
        max_batched_tokens=s.max_batched_tokens or _budget(cal, s.scenario),
        swa_blocks_per_seq=kv_block_overhead_per_seq(spec),
    )
    rng = np.random.default_rng(seed)
    prompt, output = s.shape.lengths(s.input_len, s.output_len)
    cap = kv_capacity_tokens(spec) // 2  # a tail or a chat history past half the KV cache: clipped
    if s.shape.shaped:
        prompt, output = prompt.capped(cap), output.capped(cap)
    if s.scenario == "offline":
        n = s.requests or min(max(1000, 2 * seqs * s.replicas), 20000)
        work = s.shape.with_hits(wl.offline(rng, n, prompt, output))
    elif s.scenario == "rate":
        n = s.requests or int(min(max(1000, s.load * 60), 100_000))
        work = s.shape.open_loop(rng, s.load, n, prompt, output, max_context=cap)
    else:
        c = round(s.load)
        # ten requests per client, all clients starting together, every request counted: the
        # start-up wave then weighs in as it does in a benchmark harness's summary
        n = s.requests or max(10 * c, 40)
        work = wl.closed_loop(rng, c, n, prompt, output, stagger_s=stagger * _e2e_estimate(step, s, c))
        work = s.shape.with_hits(work)
    if s.disaggregated:
        layout = disagg.Layout.parse(s.disaggregated, s.tensor_parallel)
        run = disagg.run_layout(spec, cal, layout, work, rng, "auto", seqs, cfg.max_batched_tokens)
        return summarise(run.result)
    return summarise(simulate(step, cfg, work, s.replicas, rng))


def public_metrics(summary: Summary) -> dict[str, float]:
    """The six numbers the ``predict`` contract promises."""
    d = summary.as_dict()
    return {k: d[k] for k in PUBLIC_METRICS}
