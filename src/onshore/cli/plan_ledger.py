"""``onshore plan size --from-ledger``: the capacity plan on the gateway's own ledger, and ``--growth``.

``--growth X`` multiplies the demand, as it always has (``1.2``, ``x1.2`` or ``1.2x``: +20 %; the
default 1 leaves it as it is), or says by how much it grows in percent (``20%``, ``+20%``; ``-10%``
shrinks it). The bare number stays a multiplier so command lines and scenario files written before
the ledger came mean what they meant.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from onshore.cli.common import load, store_for
from onshore.cli.plan_scenario import set_by, typed

if TYPE_CHECKING:
    from onshore.admin.capacity import CapacityPlan, ModelPlan

_MULTIPLIER = re.compile(r"^\s*(?:[x×]\s*([0-9.eE+-]+)|([0-9.eE+-]+)\s*[x×])\s*$")
_PERCENT = re.compile(r"^\s*([+-]?[0-9.eE+-]+)\s*%\s*$")
# Options that describe demand some other way: they make no sense with the ledger's own demand.
_DEMAND_OPTIONS = (
    "model",
    "mau",
    "dau_per_mau",
    "requests_per_user",
    "peak_to_average",
    "prompt_mean",
    "prompt_sigma",
    "output_mean",
    "output_sigma",
    "from_usage",
    "dataset",
    "input_dist",
    "output_dist",
    "prefix_hit_rate",
)
_LEDGER_OPTIONS = ("month", "org", "model_map")
LEDGER_ONLY = ("from_ledger", *_LEDGER_OPTIONS)


def growth_factor(value: object) -> float:
    """The demand multiplier ``--growth`` asks for (see the module docstring): 1.2, x1.2 and 20% give 1.2.

    Raises:
        click.BadParameter: none of those forms, or a demand of nothing or less.
    """
    text = str(value).strip()
    factor: float | None = None
    try:
        if m := _MULTIPLIER.match(text):
            factor = float(m.group(1) or m.group(2))
        elif m := _PERCENT.match(text):
            factor = 1 + float(m.group(1)) / 100
        else:
            factor = float(text)
    except ValueError:
        factor = None
    if factor is None or not math.isfinite(factor) or factor <= 0:
        raise click.BadParameter(
            f"{text!r}: use a multiplier (1.2 or x1.2) or a percent (20%); the demand must stay above zero",
            param_hint="'--growth'",
        )
    return factor


def check_ledger_options(
    ctx: click.Context, opts: dict[str, Any], from_file: frozenset[str] = frozenset()
) -> None:
    """Refuse options of the other mode: demand flags with --from-ledger, ledger flags without it.
    With --from-ledger, demand keys of the --scenario file (``from_file``: the options it set) are
    refused as the flags are, and so are a layout other than ``tp`` and --exhaustive, which the
    ledger's plan does not search: a value the plan would drop must not pass unnoticed."""
    if opts["from_ledger"]:
        clash = sorted(n for n in opts if typed(ctx, n) and n in _DEMAND_OPTIONS)
        if clash:
            names = ", ".join("--" + n.replace("_", "-") for n in clash)
            raise click.UsageError(
                f"--from-ledger takes the demand and the models from the ledger; drop {names} "
                "(map a served model to a planner model with --map NAME=ID or planner.models)"
            )
        in_file = sorted(from_file & set(_DEMAND_OPTIONS))
        if in_file:
            raise click.UsageError(
                f"--from-ledger takes the demand and the models from the ledger; remove {', '.join(in_file)} "
                f"from the scenario file {opts['scenario']} (map a served model to a planner model "
                "with model_map, --map NAME=ID or planner.models)"
            )
        layouts = {x.strip() for x in str(opts["layouts"]).split(",") if x.strip()}
        if layouts != {"tp"} or opts["exhaustive"]:
            raise click.UsageError(
                "--from-ledger searches tensor-parallel replicas only (layouts: tp) and always prunes "
                "what cannot win; drop --layouts and --exhaustive (or those keys of the scenario file)"
            )
        return
    stray = [n for n in _LEDGER_OPTIONS if opts.get(n)]
    if stray:
        names = ", ".join("--" + ("map" if n == "model_map" else n) for n in stray)
        raise click.UsageError(f"{names} only apply with --from-ledger")


def _model_map(pairs: object) -> dict[str, str]:
    # Repeated flags give a tuple; a --scenario YAML list arrives joined by commas.
    if isinstance(pairs, str):
        items = pairs.split(",")
    else:
        items = [str(p) for p in pairs] if isinstance(pairs, tuple | list) else []
    out = {}
    for pair in items:
        served, sep, target = pair.partition("=")
        if not sep or not served.strip() or not target.strip():
            raise click.BadParameter(f"{pair!r}: use SERVED=PLANNER_ID", param_hint="'--map'")
        out[served.strip()] = target.strip()
    return out


def size_from_ledger(
    ctx: click.Context, opts: dict[str, Any], csv: Any, from_file: frozenset[str] = frozenset()
) -> None:
    """Plan on the configured store's ledger; print or write what ``plan size`` does.

    ``from_file``: the options the ``--scenario`` file set (``merge_scenario``); they count as given,
    under the flags typed and over the config, as in the plain ``plan size``."""
    from rich.console import Console  # noqa: PLC0415
    from rich.progress import Progress  # noqa: PLC0415

    from onshore.admin.capacity import CapacityOptions, plan_capacity  # noqa: PLC0415
    from onshore.admin.capacity_report import capacity_json  # noqa: PLC0415
    from onshore.planner.cost import CostInputs  # noqa: PLC0415
    from onshore.planner.executor import make_executor  # noqa: PLC0415

    def given(name: str) -> str | None:  # who set it for this run: "command line", "scenario file"
        return set_by(ctx, name, from_file)

    settings = load(opts["config"])
    # The search space and SLOs come from the config's planner section (what the console uses), so
    # both faces give the same answer; flags typed on the command line win, then the --scenario file.
    base = CapacityOptions.from_settings(settings)
    overrides: dict[str, Any] = {
        "max_num_seqs": tuple(csv(int, str(opts["max_num_seqs"]))),
        "engine": str(opts["engine"]),
        "objective": str(opts["objective"]),
        "costs": CostInputs(
            pue=float(opts["pue"]),
            krw_per_kwh=float(opts["krw_per_kwh"]),
            krw_per_usd=float(opts["krw_per_usd"]),
        ),
        "model_map": {**base.model_map, **_model_map(opts["model_map"])},
        "disaggregated": bool(opts["disaggregated"]),
    }
    for flag, key, kind in (
        ("gpus", "gpus", str),
        ("tp", "tensor_parallel", int),
        ("precision", "precisions", str),
    ):
        if given(flag):
            overrides[key] = tuple(csv(kind, str(opts[flag])))
    # A limit typed or written in the scenario file for this run applies to every interactive tier
    # (planner.tier_slos included), and the report says which and from where; without either the
    # config's SLOs apply, tier by tier.
    slo_by = {key: who for key in ("ttft_p99_ms", "tpot_p99_ms") if (who := given(key))}
    options = CapacityOptions.from_settings(settings, **overrides).with_slo_override(
        float(opts["ttft_p99_ms"]) if "ttft_p99_ms" in slo_by else None,
        float(opts["tpot_p99_ms"]) if "tpot_p99_ms" in slo_by else None,
        slo_by,
    )
    growth_percent = (growth_factor(opts["growth"]) - 1) * 100
    err = Console(stderr=True)
    store = store_for(opts["config"], settings)
    executor = make_executor(str(opts["executor"]), int(opts["workers"]) or None, opts["cluster"])
    try:
        quiet = bool(opts["as_json"]) or not err.is_terminal  # progress on a terminal only, never with --json
        with executor, Progress(console=err, disable=quiet, transient=True) as progress:
            task = progress.add_task("simulating configurations", total=None)
            plan = plan_capacity(
                store,
                month=opts["month"],
                growth_percent=growth_percent,
                org_name=opts["org"],
                options=options,
                executor=executor,
                on_progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    finally:
        store.close()
    if opts["report_dir"]:
        path = write_capacity_report(plan, Path(opts["report_dir"]))
        err.print(f"report written to {path}")
    if opts["as_json"]:
        import json  # noqa: PLC0415

        click.echo(json.dumps(capacity_json(plan), indent=2, ensure_ascii=False))
        return
    _print_plan(plan)


def write_capacity_report(plan: CapacityPlan, out_dir: Path) -> Path:
    """``capacity.html`` (a page around the fragment), ``capacity.json``, and the planner's report
    of each sized model in a folder of its own; returns the HTML path."""
    import json  # noqa: PLC0415

    from onshore.admin.capacity_report import batch_only_note, capacity_json  # noqa: PLC0415
    from onshore.planner.report import write_report  # noqa: PLC0415

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "capacity.json").write_text(json.dumps(capacity_json(plan), indent=2) + "\n", encoding="utf-8")
    for m in plan.sized:
        if m.sizing is not None:
            note = batch_only_note(m) if m.batch_only else None
            write_report(m.sizing, out_dir / _folder(m.served), note=note, pools=m.pools)
    page = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Capacity plan {plan.month}</title></head><body>\n{plan.html}\n</body></html>\n"
    )
    path = out_dir / "capacity.html"
    path.write_text(page, encoding="utf-8")
    return path


def _folder(served: str) -> str:
    """A served model's name as one safe folder name (names may hold '/' and ':')."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", served).strip("._") or "model"


def _print_plan(plan: CapacityPlan) -> None:
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    console = Console()
    console = console if console.is_terminal else Console(width=200)
    scope = plan.org or "all organisations"
    console.print(f"{plan.month} ({scope}), grown by {plan.growth_percent:g} %: {plan.message}")
    peak = plan.peak
    if peak is None:
        return
    if plan.batch_only:
        console.print(
            f"no interactive traffic: batch work only ({plan.batch_requests:,} requests); no hourly peak "
            "was sized for, only each model's daily batch volume"
        )
    elif plan.batch_requests:
        console.print(f"batch work: {plan.batch_requests:,} requests, kept out of the peak")
    which = "busiest hour of batch work" if plan.batch_only else "busiest hour"
    console.print(
        f"{which} {peak.start:%Y-%m-%d %H:00} UTC: {peak.requests:,} requests "
        f"({peak.requests_per_s:,.2f}/s), {peak.prompt.total:,} prompt and {peak.completion.total:,} "
        f"completion tokens, {peak.streamed_share:.0%} streamed"
    )
    mix = Table(title=f"Model mix in the {which}")
    for col in ("model", "requests", "prompt mean", "prompt σ", "completion mean", "completion σ"):
        mix.add_column(col)
    for r in peak.models:
        mix.add_row(
            r.model,
            f"{r.requests:,}",
            f"{r.prompt_mean:,.0f}",
            f"{r.prompt_log_sigma:.2f}",
            f"{r.completion_mean:,.0f}",
            f"{r.completion_log_sigma:.2f}",
        )
    console.print(mix)
    for m in plan.models:
        _print_model(console, m, plan.options.objective)
    console.print(
        f"in all: {plan.total_gpus:,} GPUs, {plan.total_facility_mw:,.2f} MW facility power, "
        f"{plan.total_annual_cost_krw / 1e9:,.2f} bn KRW a year (planned in {plan.elapsed_s:.1f} s)"
    )


def _print_model(console: Any, m: ModelPlan, objective: str) -> None:
    """One served model: what it was sized for and to which SLO, who sent it, its sizing table."""
    from rich.table import Table  # noqa: PLC0415

    from onshore.admin.capacity_report import (  # noqa: PLC0415
        batch_only_note,
        batch_text,
        org_row,
        sized_at,
        slo_text,
    )
    from onshore.planner.report import sizing_table  # noqa: PLC0415
    from onshore.planner.report.disagg import comparison_lines  # noqa: PLC0415

    if m.sizing is None:
        console.print(f"not sized: {m.served} ({m.month_requests:,} requests): {m.match.how}")
        return
    at = (
        f"busiest day of batch work, {m.peak.hour:%Y-%m-%d}"
        if m.batch_only
        else f"busiest hour {sized_at(m)}"
    )
    console.print(
        f"{m.served} as {m.sizing.model} ({m.match.how}), sized for its {at} UTC "
        f"to p99 TTFT / TPOT {slo_text(m)} ms"
    )
    if m.batch_only:
        console.print(batch_only_note(m))
    if m.orgs:
        orgs = Table(title=f"Organisations sending {m.served} interactive traffic then")
        for col in ("organisation", "tier", "requests", "requests/s", "prompt mean", "completion mean"):
            orgs.add_column(col)
        for o in m.orgs:
            orgs.add_row(*org_row(o))
        console.print(orgs)
    console.print(sizing_table(m.sizing))
    if m.best is None:
        console.print("no configuration meets the SLOs; relax them or add GPU types")
    elif m.batch_requests:
        console.print(batch_text(m))
    for line in comparison_lines(m.best, m.pools, objective) if m.pools is not None else []:
        console.print(line)
