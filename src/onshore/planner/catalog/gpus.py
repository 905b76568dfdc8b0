"""GPU catalog: peak dense FLOP/s per precision, HBM, scale-up links, power and an assumed capex."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from onshore.planner.catalog._csv import num, read_rows
from onshore.planner.errors import PlannerError


@dataclass(frozen=True, slots=True)
class Gpu:
    """One accelerator type. FLOP/s are dense (no sparsity), in TFLOP/s; bandwidths per GPU."""

    id: str
    name: str
    vendor: str
    bf16_tflops: float
    fp8_tflops: float
    fp4_tflops: float
    hbm_gb: float
    hbm_tb_s: float
    hbm_stacks: int
    scaleup_gb_s: float
    scaleup_domain: int
    switched: bool
    tdp_w: float
    gpus_per_node: int
    node_kw: float
    nodes_per_rack: int
    capex_usd_per_gpu: float
    source: str
    notes: str

    def peak_tflops(self, precision: str) -> float:
        """Dense peak for the compute precision; falls back to the next wider format the GPU has."""
        if precision == "fp4" and self.fp4_tflops > 0:
            return self.fp4_tflops
        if precision in ("fp8", "fp4") and self.fp8_tflops > 0:
            return self.fp8_tflops
        return self.bf16_tflops


def _parse(row: dict[str, str]) -> Gpu:
    return Gpu(
        id=row["id"],
        name=row["name"],
        vendor=row["vendor"],
        bf16_tflops=num(row, "dense_bf16_tflops"),
        fp8_tflops=num(row, "dense_fp8_tflops"),
        fp4_tflops=num(row, "dense_fp4_tflops"),
        hbm_gb=num(row, "hbm_gb"),
        hbm_tb_s=num(row, "hbm_tb_s"),
        hbm_stacks=int(num(row, "hbm_stacks")),
        scaleup_gb_s=num(row, "scaleup_gb_s_per_direction"),
        scaleup_domain=int(num(row, "scaleup_domain_gpus", 8)),
        switched=row.get("switched_scaleup", "true").strip().lower() == "true",
        tdp_w=num(row, "tdp_w"),
        gpus_per_node=int(num(row, "gpus_per_node", 8)),
        node_kw=num(row, "node_kw"),
        nodes_per_rack=int(num(row, "nodes_per_rack", 4)),
        capex_usd_per_gpu=num(row, "capex_usd_per_gpu"),
        source=row["source"],
        notes=row.get("notes", ""),
    )


_ALIASES = {
    "h100-sxm-80gb": "h100",
    "h100_sxm": "h100",
    "h100-sxm": "h100",
    "h200-sxm-141gb": "h200",
    "h200_sxm": "h200",
    "b200_sxm": "b200",
    "b200-sxm-180gb": "b200",
    "gb200-186gb": "gb200",
}


@cache
def _packaged() -> dict[str, Gpu]:
    return {g.id: g for g in map(_parse, read_rows("gpus.csv"))}


def load_gpus(path: Path | None = None) -> dict[str, Gpu]:
    """All GPUs by id, from the packaged catalog or an edited copy at ``path``."""
    if path is None:
        return dict(_packaged())
    return {g.id: g for g in map(_parse, read_rows("gpus.csv", path))}


def gpu(gpu_id: str) -> Gpu:
    """One GPU by id (case-insensitive; a few common spellings are accepted)."""
    key = gpu_id.strip().lower()
    key = _ALIASES.get(key, key)
    found = _packaged().get(key)
    if found is None:
        raise PlannerError(f"unknown GPU {gpu_id!r}; known: {', '.join(sorted(_packaged()))}")
    return found
