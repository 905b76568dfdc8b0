"""Throughput of ``offline`` and ``rate`` rows: the long run a published figure comes from."""

from __future__ import annotations

import numpy as np
import pytest

from onshore.planner import slo
from onshore.planner.predict import _setup, parse_row, predict
from onshore.planner.sim import simulate, summarise
from onshore.planner.sim import workload as wl
from onshore.planner.sim.lengths import parse_dist

# Two replicas of Llama 3.1 8B on H100 at batch 256, log-normal lengths: an offline row simulates
# max(1,000, 2 x 256 x 2) = 1,024 requests, two batches a replica.
ROW = {
    "model": "llama-3.1-8b",
    "gpu": "h100",
    "num_gpus": "2",
    "tensor_parallel": "1",
    "precision": "fp8",
    "input_dist": "lognormal:mean=500,sigma=0.8,max=4000",
    "output_dist": "lognormal:mean=200,sigma=1.0,max=4000",
    "max_num_seqs": "256",
}
PROMPT, OUTPUT = parse_dist(ROW["input_dist"]), parse_dist(ROW["output_dist"])


def _long_run_rps() -> float:
    """Requests/s of the same system over a run of 24 batches a replica (start and drain diluted),
    read between the 10th and the 90th percentile of completions."""
    s = parse_row({**ROW, "scenario": "offline", "load": ""})
    _, step, cfg = _setup(s, None)
    rng = np.random.default_rng(7)
    done = np.sort(simulate(step, cfg, wl.offline(rng, 24 * 256 * 2, PROMPT, OUTPUT), 2, rng).finish)
    lo, hi = int(0.1 * done.size), int(0.9 * done.size)
    return (hi - lo) / float(done[hi] - done[lo])


def test_offline_throughput_is_the_long_run_rate_not_a_short_runs() -> None:
    s = parse_row({**ROW, "scenario": "offline", "load": ""})
    got = predict(s)
    long_run = _long_run_rps()
    assert got.requests_per_s == pytest.approx(long_run, rel=0.05)
    assert got.output_tokens_per_s == pytest.approx(got.requests_per_s * OUTPUT.mean)
    assert got.input_tokens_per_s == pytest.approx(got.requests_per_s * PROMPT.mean)
    # the two-batch run itself, first request to last completion, reads low: its all-prefill start
    # and its drain weigh in (what this row predicted before)
    _, step, cfg = _setup(s, None)
    rng = np.random.default_rng(0)
    short = summarise(simulate(step, cfg, wl.offline(rng, 1024, PROMPT, OUTPUT), 2, rng))
    assert short.requests_per_s < 0.93 * long_run


def test_a_rate_the_system_keeps_up_with_is_delivered_in_full() -> None:
    s = parse_row({**ROW, "scenario": "rate", "load": "20"})
    got = predict(s)
    assert got.requests_per_s == 20.0
    assert got.output_tokens_per_s == pytest.approx(20.0 * OUTPUT.mean)
    assert got.ttft_p99_ms < 1000.0  # it did keep up


def test_an_overloaded_rate_delivers_what_saturated_replicas_complete() -> None:
    s = parse_row({**ROW, "scenario": "rate", "load": "1000"})
    _, step, cfg = _setup(s, None)
    ceiling = slo.steady_throughput(step, cfg, 2, PROMPT, OUTPUT, seed=0)
    got = predict(s)
    assert ceiling < 1000.0
    assert got.requests_per_s == pytest.approx(ceiling)
    assert got.output_tokens_per_s == pytest.approx(ceiling * OUTPUT.mean)
    assert got.requests_per_s == pytest.approx(_long_run_rps(), rel=0.05)
