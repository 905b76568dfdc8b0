"""``onshore plan``'s traffic-shape options: dataset profiles, length distributions, prefix caching.

Kept apart from ``plan.py`` so that module stays one command per screen: ``shape_options`` adds the
``plan size`` flags, ``apply_shape`` turns them into the demand's lengths and hit rate, and
``datasets_json`` lists the profiles for ``plan catalog --json``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from onshore.planner.demand import Demand

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS = (
    click.option(
        "--dataset",
        default=None,
        help="Lengths from a named profile (openorca, cnn-dailymail, llama3.1-405b-mix, mixtral-mix, "
        "deepseek-r1-reasoning, sharegpt; `plan catalog --json` lists them with sources).",
    ),
    click.option(
        "--input-dist",
        default=None,
        help="Prompt lengths as a distribution: lognormal:mean=870,sigma=0.8, lognormal:median=784,p90=1479, "
        "empirical:p0=..,p50=..,p100=..[,mean=..] or fixed:N (overrides --prompt-mean/--prompt-sigma).",
    ),
    click.option("--output-dist", default=None, help="Output lengths as a distribution (as --input-dist)."),
    click.option(
        "--prefix-hit-rate",
        type=float,
        default=0.0,
        show_default=True,
        help="Share of each prompt already in the prefix cache (multi-turn chat, shared system prompts).",
    ),
)


def shape_options(f: F) -> F:
    """Add the traffic-shape flags to a command."""
    for option in reversed(_OPTIONS):
        f = option(f)
    return f


def apply_shape(demand: Demand, opts: dict[str, Any]) -> Demand:
    """``demand`` with the lengths and prefix hit rate the shape flags ask for (as it is without them)."""
    from onshore.planner import traffic  # noqa: PLC0415

    shape = traffic.Shape(
        dataset=str(opts.get("dataset") or ""),
        input_dist=str(opts.get("input_dist") or ""),
        output_dist=str(opts.get("output_dist") or ""),
        prefix_cache_hit_rate=float(opts.get("prefix_hit_rate") or 0.0),
    )
    return traffic.reshape(demand, shape)


def datasets_json() -> list[dict[str, Any]]:
    """Every dataset profile: id, benchmark, distribution specs, MLPerf Server limits, assumptions, source."""
    from onshore.planner.catalog.datasets import load_datasets  # noqa: PLC0415

    return [
        {
            "id": d.id,
            "benchmark": d.benchmark,
            "input": d.input.describe(),
            "output": d.output.describe(),
            "server_slo_ms": d.server_slo_ms,
            "assumed": list(d.assumed),
            "source": d.source,
        }
        for d in load_datasets().values()
    ]
