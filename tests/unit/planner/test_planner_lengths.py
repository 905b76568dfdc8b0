"""Length distributions (fixed, log-normal, empirical) and the dataset profiles built on them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from onshore.planner.catalog.datasets import dataset, load_datasets
from onshore.planner.errors import PlannerError
from onshore.planner.sim.lengths import (
    LengthDist,
    empirical,
    fixed,
    from_samples,
    lognormal,
    lognormal_quantiles,
    parse_dist,
)


def test_lognormal_sampler_reproduces_its_mean_and_sigma() -> None:
    d = lognormal(870.0, 0.8)
    x = d.sample(np.random.default_rng(7), 400_000)
    assert x.mean() == pytest.approx(870.0, rel=0.01)
    assert np.log(x).std() == pytest.approx(0.8, rel=0.02)
    assert np.median(x) == pytest.approx(870.0 * math.exp(-(0.8**2) / 2), rel=0.01)


def test_lognormal_from_median_and_p90_has_those_quantiles() -> None:
    d = lognormal_quantiles(784.0, 1479.0)
    x = d.sample(np.random.default_rng(1), 400_000)
    assert np.percentile(x, 50) == pytest.approx(784.0, rel=0.01)
    assert np.percentile(x, 90) == pytest.approx(1479.0, rel=0.01)
    assert d.mean == pytest.approx(784.0 * math.exp(d.sigma**2 / 2))


def test_fixed_is_todays_constant_and_draws_nothing_from_the_rng() -> None:
    rng = np.random.default_rng(3)
    assert (fixed(128).sample(rng, 5) == 128).all()
    assert fixed(128) == LengthDist(128.0)
    assert rng.random() == np.random.default_rng(3).random()


def test_empirical_keeps_its_knots_and_meets_the_sourced_mean() -> None:
    knots = {0.0: 48, 0.1: 85, 0.5: 152, 0.9: 519, 0.99: 791, 1.0: 1021}  # OpenOrca inputs
    d = empirical(knots, mean=222.33)
    assert d.kind == "empirical" and d.mean == pytest.approx(222.33, rel=0.002)
    x = d.sample(np.random.default_rng(2), 400_000)
    for p, v in knots.items():
        assert np.percentile(x, 100 * p) == pytest.approx(v, rel=0.02)
    assert x.mean() == pytest.approx(222.33, rel=0.01)
    # geometric joins alone over-state this right-skewed mean; the fitted join brings it down
    assert empirical(knots).mean > 230 and d.power < 0


def test_empirical_refuses_knots_it_cannot_honour() -> None:
    with pytest.raises(PlannerError, match="p0"):
        empirical({0.5: 100, 1.0: 200})
    with pytest.raises(PlannerError, match="not decrease"):
        empirical({0.0: 100, 0.5: 50, 1.0: 200})
    with pytest.raises(PlannerError, match="mean"):
        empirical({0.0: 100, 0.5: 150, 1.0: 200}, mean=500)


def test_empirical_from_samples_follows_them() -> None:
    raw = np.random.default_rng(4).lognormal(6.0, 0.7, 5000)
    d = from_samples(raw.tolist())
    x = d.sample(np.random.default_rng(5), 100_000)
    assert x.mean() == pytest.approx(raw.mean(), rel=0.02)
    assert np.percentile(x, 90) == pytest.approx(np.percentile(raw, 90), rel=0.03)


@pytest.mark.parametrize(
    ("spec", "kind", "mean"),
    [
        ("870", "fixed", 870.0),
        ("fixed:128", "fixed", 128.0),
        ("lognormal:mean=870,sigma=0.8", "lognormal", 870.0),
        ("lognormal:mean=870; sigma=0.8; max=4096", "lognormal", 870.0),
        (
            "lognormal:median=784,p90=1479",
            "lognormal",
            784.0 * math.exp((math.log(1479 / 784) / 1.28155) ** 2 / 2),
        ),
        ("empirical:p0=79,p10=391,p50=784,p90=1479,p99=2118,p100=2540,mean=870.73", "empirical", 870.73),
    ],
)
def test_parse_dist_reads_every_form(spec: str, kind: str, mean: float) -> None:
    d = parse_dist(spec)
    assert d.kind == kind and d.mean == pytest.approx(mean, rel=0.002)
    assert parse_dist(d.describe()).kind == kind


@pytest.mark.parametrize(
    "spec", ["", "gamma:mean=3", "lognormal:mean=870", "lognormal:mean=x,sigma=1", "fixed:0", "empirical:q=3"]
)
def test_parse_dist_rejects_what_it_cannot_read(spec: str) -> None:
    with pytest.raises(PlannerError):
        parse_dist(spec)


def test_every_dataset_profile_cites_a_source_and_flags_its_assumptions() -> None:
    profiles = load_datasets()
    assert {
        "openorca",
        "cnn-dailymail",
        "llama3.1-405b-mix",
        "mixtral-mix",
        "deepseek-r1-reasoning",
        "sharegpt",
    } <= set(profiles)
    for d in profiles.values():
        assert "http" in d.source, d.id
        for side, dist in (("input", d.input), ("output", d.output)):
            if dist.kind == "lognormal":  # only a mean is sourced: its sigma is an assumption
                assert f"{side}_sigma" in d.assumed, (d.id, side)
        if d.benchmark.startswith("mlperf-"):
            assert d.server_slo_ms is not None, d.id


@pytest.mark.parametrize(
    ("name", "input_mean", "output_mean", "slo"),
    [
        ("openorca", 222.33, 294.45, (2000.0, 200.0)),
        ("mlperf-llama3.1-8b", 870.73, 128.0, (2000.0, 100.0)),
        ("llama3.1-405b-mix", 9428.6, 684.68, (6000.0, 175.0)),
        ("mixtral-mix", 427.39, 144.84, (2000.0, 200.0)),
        ("deepseek-r1-reasoning", 803.79, 3886.23, (2000.0, 80.0)),
    ],
)
def test_mlperf_profiles_reproduce_their_sourced_statistics(
    name: str, input_mean: float, output_mean: float, slo: tuple[float, float]
) -> None:
    d = dataset(name)
    assert d.input.mean == pytest.approx(input_mean, rel=0.002)
    assert d.output.mean == pytest.approx(output_mean, rel=0.002)
    assert d.server_slo_ms == slo
    x = d.input.sample(np.random.default_rng(0), 100_000)
    assert x.mean() == pytest.approx(input_mean, rel=0.02)


def test_unknown_dataset_names_the_known_ones() -> None:
    with pytest.raises(PlannerError, match="openorca"):
        dataset("imagenet")
