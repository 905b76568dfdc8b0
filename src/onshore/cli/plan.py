"""``onshore plan``: the capacity planner's commands (catalog, predict, size, validate).

numpy and the planner are imported inside each command, so ``onshore --help`` stays fast.
Results go to stdout; progress goes to stderr (and only when it is a terminal). A PlannerError
(bad ids, files, numbers) is a ValueError, which the root group turns into one line and exit 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from onshore.cli.common import Group, config_option
from onshore.cli.plan_disagg import disagg_option, size_pools
from onshore.cli.plan_ledger import LEDGER_ONLY, check_ledger_options, growth_factor, size_from_ledger
from onshore.cli.plan_progress import points_progress, sweep_progress
from onshore.cli.plan_scenario import merge_scenario
from onshore.cli.plan_shape import apply_shape, datasets_json, shape_options

if TYPE_CHECKING:
    from onshore.planner.demand import Demand


def _csv(kind: type, text: str) -> list[Any]:
    try:
        return [kind(x.strip()) for x in text.split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a comma-separated list of {kind.__name__}") from None


def _stdout() -> Any:
    """A rich console on stdout; piped or captured output gets wide tables, not 80 columns."""
    from rich.console import Console  # noqa: PLC0415

    console = Console()
    return console if console.is_terminal else Console(width=200)


def _print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


@click.group(name="plan", cls=Group)
def plan() -> None:
    """Size an AI data center by simulation: catalogs, predictions, sizing, validation."""


@plan.command(name="catalog")
@click.option("--json", "as_json", is_flag=True, help="Print the GPU and model catalogs as JSON.")
def catalog(as_json: bool) -> None:
    """List the GPUs, models and traffic profiles (datasets) the planner knows, with ids and sources."""
    from dataclasses import asdict  # noqa: PLC0415

    from onshore.planner.catalog import load_gpus, load_models  # noqa: PLC0415

    gpus, models = list(load_gpus().values()), list(load_models().values())
    if as_json:
        gpu_rows, model_rows = [asdict(g) for g in gpus], [asdict(m) for m in models]
        _print_json({"gpus": gpu_rows, "models": model_rows, "datasets": datasets_json()})
        return

    from onshore.planner.report import catalog_tables  # noqa: PLC0415

    console = _stdout()
    for table in catalog_tables(gpus, models):
        console.print(table)


@plan.command(name="predict")
@click.option(
    "--scenarios",
    "scenarios_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV: model,gpu,num_gpus,tensor_parallel,precision,input_len,output_len,scenario,load "
    "(optional: dataset, input_dist, output_dist, prefix_cache_hit_rate, chat_turns; see docs/planner.md)",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per row.")
@click.option("--seed", type=int, default=0, show_default=True, help="Simulation seed.")
@click.option(
    "--calibration",
    "calibration_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A calibration JSON to use instead of the shipped one.",
)
def predict_cmd(scenarios_path: Path, as_json: bool, seed: int, calibration_path: Path | None) -> None:
    """Predict throughput and latency for each scenario row (offline, rate, concurrency or slo).

    An ``slo`` row (columns ttft_p99_ms, tpot_p99_ms) adds max_requests_per_s: the highest Poisson
    rate meeting both p99 limits; its other metrics are measured at that rate.
    """
    from onshore.planner.perf import calibration as calib  # noqa: PLC0415
    from onshore.planner.predict import predict_metrics, read_scenarios  # noqa: PLC0415

    rows = read_scenarios(scenarios_path)
    results = []
    for s in rows:
        cal = calib.load(calibration_path, s.engine) if calibration_path else None
        results.append((s, predict_metrics(s, cal, seed=seed)))
    if as_json:
        _print_json([{**_scenario_fields(s), **m} for s, m in results])
        return

    from onshore.planner.report import predict_table  # noqa: PLC0415

    _stdout().print(predict_table(results))


def _scenario_fields(s: Any) -> dict[str, Any]:
    """A row's inputs as echoed in the JSON output; an slo row's limits as slo_*."""
    from onshore.planner.predict import REQUIRED_COLUMNS  # noqa: PLC0415

    out = {k: getattr(s, k) for k in (*REQUIRED_COLUMNS, "engine")}
    if s.scenario == "slo":
        out.update(slo_ttft_p99_ms=s.ttft_p99_ms, slo_tpot_p99_ms=s.tpot_p99_ms)
    if s.parallel != "tp":
        out["parallel"] = s.parallel
    return out


def _demand(opts: dict[str, Any]) -> Demand:
    return apply_shape(_base_demand(opts), opts)


def _base_demand(opts: dict[str, Any]) -> Demand:
    from onshore.planner import demand as dm  # noqa: PLC0415

    if opts["from_usage"]:
        from onshore.planner.usage_csv import CsvUsageReader  # noqa: PLC0415

        return dm.from_usage(CsvUsageReader(Path(opts["from_usage"])), growth=growth_factor(opts["growth"]))
    return dm.from_users(
        dm.UserDemand(
            mau=opts["mau"],
            dau_per_mau=opts["dau_per_mau"],
            requests_per_daily_user=opts["requests_per_user"],
            peak_to_average=opts["peak_to_average"],
            prompt_mean=opts["prompt_mean"],
            prompt_sigma=opts["prompt_sigma"],
            output_mean=opts["output_mean"],
            output_sigma=opts["output_sigma"],
        )
    ).scaled(growth_factor(opts["growth"]))


@plan.command(name="size")
@click.option(
    "--scenario",
    type=click.Path(dir_okay=False),
    default=None,
    help="YAML file with any of these options (flags override it; with --from-ledger it overrides "
    "the config's planner section).",
)
@click.option("--model", default="llama-3.1-70b", show_default=True, help="Model id (see `plan catalog`).")
@click.option("--mau", type=float, default=20.31e6, show_default=True, help="Monthly active users.")
@click.option(
    "--dau-per-mau", type=float, default=0.35, show_default=True, help="Daily / monthly active users."
)
@click.option(
    "--requests-per-user", type=float, default=12.0, show_default=True, help="Requests per daily user."
)
@click.option(
    "--peak-to-average", type=float, default=2.0, show_default=True, help="Diurnal peak / daily mean."
)
@click.option("--prompt-mean", type=float, default=1200.0, show_default=True, help="Mean prompt tokens.")
@click.option(
    "--prompt-sigma", type=float, default=0.9, show_default=True, help="Log-normal sigma of prompts."
)
@click.option("--output-mean", type=float, default=400.0, show_default=True, help="Mean output tokens.")
@click.option(
    "--output-sigma", type=float, default=0.7, show_default=True, help="Log-normal sigma of outputs."
)
@shape_options
@click.option(
    "--from-usage",
    type=click.Path(dir_okay=False),
    default=None,
    help="Derive demand from a usage CSV (time,prompt_tokens,completion_tokens) instead.",
)
@click.option(
    "--from-ledger",
    is_flag=True,
    help="Derive demand from the gateway's own ledger (the configured database): each served model "
    "at its busiest hour of --month.",
)
@click.option(
    "--month", default=None, help="With --from-ledger: YYYY-MM (default: the last complete month, UTC)."
)
@click.option("--org", default=None, help="With --from-ledger: one organisation's traffic only.")
@click.option(
    "--map",
    "model_map",
    multiple=True,
    metavar="SERVED=ID",
    help="With --from-ledger: plan a served model as this planner model (repeatable; see planner.models).",
)
@click.option(
    "--growth",
    default="1",
    show_default=True,
    help="Multiply demand (1.2 or x1.2), or grow it by a percent (20%): both mean +20 %.",
)
@click.option(
    "--ttft-p99-ms",
    type=float,
    default=2000.0,
    show_default=True,
    help="p99 TTFT limit. With --from-ledger: default planner.ttft_p99_ms and planner.tier_slos; "
    "given (or in --scenario), it is every tier's for this run.",
)
@click.option(
    "--tpot-p99-ms",
    type=float,
    default=60.0,
    show_default=True,
    help="p99 TPOT limit (as --ttft-p99-ms).",
)
@click.option(
    "--gpus", default="h100,h200,b200,gb200,mi300x,mi325x", show_default=True, help="GPU ids to search."
)
@click.option("--tp", default="1,2,4,8", show_default=True, help="GPUs per replica (TP degree).")
@click.option(
    "--layouts",
    default="tp",
    show_default=True,
    help="Replica layouts to search: tp, dp-ep (attention data parallel + expert parallel, MoE only).",
)
@click.option("--precision", default="fp8,fp4", show_default=True, help="Precisions to search.")
@click.option(
    "--max-num-seqs",
    default="0",
    show_default=True,
    help="Max batch sizes to search; 0: the engine's shipped default, tuned up to the KV limit.",
)
@click.option(
    "--engine", default="vllm", show_default=True, help="Calibration profile (vllm, trtllm, sglang)."
)
@click.option("--objective", type=click.Choice(["cost", "gpus", "power"]), default="cost", show_default=True)
@click.option("--pue", type=float, default=1.3, show_default=True)
@click.option("--krw-per-kwh", type=float, default=180.0, show_default=True)
@click.option("--krw-per-usd", type=float, default=1400.0, show_default=True)
@click.option("--workers", type=int, default=0, help="Processes for the sweep (0 = one per CPU).")
@click.option(
    "--executor",
    type=click.Choice(["local", "serial", "dask", "ray"]),
    default="local",
    show_default=True,
    envvar="ONSHORE_PLAN_EXECUTOR",
    help="Where the sweep runs: a local process pool, this process, or a Dask or Ray cluster "
    "(the planner-cluster extra).",
)
@click.option(
    "--cluster",
    default=None,
    envvar="ONSHORE_PLAN_CLUSTER",
    help="Dask scheduler (tcp://host:8786) or Ray cluster (ray://host:10001) address; without it "
    "--executor dask|ray starts a local one of --workers processes.",
)
@click.option(
    "--exhaustive",
    is_flag=True,
    help="Simulate every configuration (by default those that cannot reach the top 5 are skipped).",
)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Write report.md, SVG plots and report.json here.",
)
@click.option("--json", "as_json", is_flag=True, help="Print every number as JSON.")
@disagg_option
@config_option
@click.pass_context
def size_cmd(ctx: click.Context, /, **raw: Any) -> None:
    """Find the cheapest fleet that meets the p99 TTFT/TPOT SLOs at the daily peak.

    Demand comes from user counts (the flags), a usage CSV (--from-usage), or the gateway's own
    ledger (--from-ledger: one fleet per served model, sized at its busiest hour of --month).
    """
    from rich.console import Console  # noqa: PLC0415

    from onshore.planner.cost import CostInputs  # noqa: PLC0415
    from onshore.planner.executor import make_executor  # noqa: PLC0415
    from onshore.planner.report import sizing_json, sizing_table, write_report  # noqa: PLC0415
    from onshore.planner.report.disagg import comparison_json, comparison_lines  # noqa: PLC0415
    from onshore.planner.sizing import KEEP, Slo, default_candidates, size  # noqa: PLC0415

    opts, from_file = merge_scenario(ctx, raw)
    check_ledger_options(ctx, opts, from_file)
    if opts["from_ledger"]:
        size_from_ledger(ctx, opts, _csv, from_file)
        return
    demand = _demand(opts)
    candidates = default_candidates(
        _csv(str, str(opts["gpus"])),
        _csv(int, str(opts["tp"])),
        _csv(str, str(opts["precision"])),
        _csv(int, str(opts["max_num_seqs"])),
        str(opts["engine"]),
        _csv(str, str(opts["layouts"])),
    )
    slo = Slo(float(opts["ttft_p99_ms"]), float(opts["tpot_p99_ms"]))
    costs = CostInputs(
        pue=float(opts["pue"]), krw_per_kwh=float(opts["krw_per_kwh"]), krw_per_usd=float(opts["krw_per_usd"])
    )
    err = Console(stderr=True)
    model = str(opts["model"])
    executor = make_executor(str(opts["executor"]), int(opts["workers"]) or None, opts["cluster"])
    with executor, sweep_progress(ctx, model, len(candidates), bool(opts["as_json"])) as progress:
        result = size(
            model,
            demand,
            slo,
            candidates,
            executor,
            costs,
            str(opts["objective"]),
            on_done=progress.finished,
            keep=None if opts["exhaustive"] else KEEP,
            on_start=progress.started,
        )
        pools = size_pools(model, demand, slo, opts, executor, costs, _csv) if opts["disaggregated"] else None
    assumptions = {
        k: v
        for k, v in opts.items()
        if k not in ("report_dir", "as_json", "workers", "executor", "cluster", "config", *LEDGER_ONLY)
    }
    if opts["report_dir"]:
        path = write_report(result, Path(opts["report_dir"]), assumptions, pools=pools)
        err.print(f"report written to {path}")
    objective = str(opts["objective"])
    if opts["as_json"]:
        data = sizing_json(result, assumptions)
        if pools is not None:
            data["disaggregated"] = comparison_json(result.best, pools, objective)
        _print_json(data)
        return
    _stdout().print(sizing_table(result))
    for line in comparison_lines(result.best, pools, objective) if pools is not None else []:
        click.echo(line)
    if result.best is None:
        click.echo("no configuration meets the SLOs; relax them or add GPU types", err=True)


@plan.command(name="validate")
@click.option(
    "--split", type=click.Choice(["holdout", "calibration", "all"]), default="holdout", show_default=True
)
@click.option("--limit", type=int, default=0, help="Validate only the first N points (0 = all).")
@click.option("--json", "as_json", is_flag=True, help="Print the error table as JSON.")
@click.pass_context
def validate_cmd(ctx: click.Context, /, split: str, limit: int, as_json: bool) -> None:
    """Compare predictions with the published measurements shipped in the package."""
    from onshore.planner.validation import compare, error_table, load_points  # noqa: PLC0415

    points = load_points(split=None if split == "all" else split)
    if limit:
        points = points[:limit]
    with points_progress(ctx, points, as_json) as progress:
        table = error_table(compare(points, progress=progress))
    if as_json:
        _print_json(table)
        return
    for name, row in table.items():
        click.echo(
            f"{name:34s} n={int(row['n']):5d}  median |err| {row['median_abs_pct']:6.1f} %  "
            f"mean signed {row['mean_signed_pct']:+6.1f} %"
        )
    sys.stdout.flush()
