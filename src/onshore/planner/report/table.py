"""Terminal tables (rich) for the catalog, predictions and a sizing result."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from onshore.planner.catalog import Gpu, Model
from onshore.planner.predict import PUBLIC_METRICS, Scenario
from onshore.planner.sizing import SizingResult


def catalog_tables(gpus: Sequence[Gpu], models: Sequence[Model]) -> list[Table]:
    g = Table(title="GPUs (dense TFLOP/s)")
    for col in ("id", "name", "BF16", "FP8", "FP4", "HBM GB", "TB/s", "stacks", "scale-up GB/s/dir", "TDP W"):
        g.add_column(col)
    for x in gpus:
        g.add_row(
            x.id,
            x.name,
            f"{x.bf16_tflops:g}",
            f"{x.fp8_tflops:g}" if x.fp8_tflops else "-",
            f"{x.fp4_tflops:g}" if x.fp4_tflops else "-",
            f"{x.hbm_gb:g}",
            f"{x.hbm_tb_s:g}",
            str(x.hbm_stacks),
            f"{x.scaleup_gb_s:g}",
            f"{x.tdp_w:g}",
        )
    m = Table(title="Models")
    for col in ("id", "name", "params B", "active B", "layers", "hidden", "heads/kv", "experts", "vocab"):
        m.add_column(col)
    for y in models:
        experts = f"{y.experts_active}/{y.experts}" if y.experts else "-"
        m.add_row(
            y.id,
            y.name,
            f"{y.params_total / 1e9:.1f}",
            f"{y.params_active / 1e9:.1f}",
            str(y.layers),
            str(y.hidden),
            f"{y.heads}/{y.kv_heads}",
            experts,
            str(y.vocab),
        )
    return [g, m]


def predict_table(rows: Sequence[tuple[Scenario, dict[str, float]]]) -> Table:
    t = Table(title="Predictions")
    slo = any("max_requests_per_s" in m for _, m in rows)
    extra = ("SLO p99 TTFT/TPOT", "max req/s") if slo else ()
    for col in ("model", "gpu", "GPUs", "TP", "prec", "ISL/OSL", "scenario", "load", *extra, *PUBLIC_METRICS):
        t.add_column(col)
    for s, m in rows:
        limits = f"{s.ttft_p99_ms:g}/{s.tpot_p99_ms:g} ms" if s.scenario == "slo" else ""
        found = f"{m['max_requests_per_s']:,.2f}" if "max_requests_per_s" in m else ""
        t.add_row(
            s.model,
            s.gpu,
            str(s.num_gpus),
            str(s.tensor_parallel) if s.parallel == "tp" else f"DP{s.tensor_parallel}-EP{s.tensor_parallel}",
            s.precision,
            f"{s.input_len}/{s.output_len}",
            s.scenario,
            f"{s.load:g}" if s.scenario != "slo" else "",
            *((limits, found) if slo else ()),
            *(f"{m[k]:,.1f}" for k in PUBLIC_METRICS),
        )
    return t


def sizing_table(result: SizingResult, top: int = 12) -> Table:
    t = Table(
        title=f"Sizing {result.model}: peak {result.demand.peak_rps:,.0f} req/s, "
        f"p99 TTFT <= {result.slo.ttft_p99_ms:g} ms, p99 TPOT <= {result.slo.tpot_p99_ms:g} ms"
    )
    for col in (
        "rank",
        "configuration",
        "req/s/replica",
        "GPUs",
        "nodes",
        "racks",
        "facility MW",
        "MWh/yr",
        "KRW bn/yr",
        "KRW/M tok",
        "p99 TTFT",
        "p99 TPOT",
    ):
        t.add_column(col)
    for i, r in enumerate(result.feasible[:top], 1):
        c = r.cost
        assert c is not None  # feasible results always carry a cost
        t.add_row(
            str(i),
            r.label,
            f"{r.rate_per_replica:.2f}",
            f"{c.gpus:,}",
            f"{c.nodes:,}",
            f"{c.racks:,}",
            f"{c.facility_power_mw:.1f}",
            f"{c.annual_mwh:,.0f}",
            f"{c.annual_cost_krw / 1e9:,.1f}",
            f"{c.krw_per_million_tokens:,.0f}",
            f"{r.at_peak.get('ttft_p99_ms', 0):.0f}",
            f"{r.at_peak.get('tpot_p99_ms', 0):.1f}",
        )
    return t
