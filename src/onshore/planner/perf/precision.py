"""Numeric formats: bytes per stored weight, per cached KV value, and which peak FLOP/s applies."""

from __future__ import annotations

from onshore.planner.errors import PlannerError

PRECISIONS = ("bf16", "fp8", "fp4", "int4")

# Bytes per weight including block scales: FP8 per-channel/block scales are ~0.5 % (ignored);
# NVFP4/MXFP4 carry one 8-bit scale per 16/32 values (4.5 / 4.25 bits); INT4 (AWQ/GPTQ, group 128)
# carries a 16-bit scale and zero per group (~4.25 bits).
_WEIGHT_BYTES = {"bf16": 2.0, "fp8": 1.0, "fp4": 0.5625, "int4": 0.53}

# Compute format of the GEMMs: INT4 checkpoints are weight-only (W4A16) on every GPU here.
_COMPUTE = {"bf16": "bf16", "fp8": "fp8", "fp4": "fp4", "int4": "bf16"}

# KV-cache format by default: engines serving FP8/FP4 checkpoints usually cache KV in FP8.
_KV_BYTES = {"bf16": 2.0, "fp8": 1.0, "fp4": 1.0, "int4": 2.0}


def check(precision: str) -> str:
    """The normalised precision name, or a PlannerError naming the accepted ones."""
    p = precision.strip().lower()
    aliases = {"fp16": "bf16", "nvfp4": "fp4", "mxfp4": "fp4", "w4a16": "int4", "awq": "int4"}
    p = aliases.get(p, p)
    if p not in PRECISIONS:
        raise PlannerError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    return p


def weight_bytes(precision: str) -> float:
    """Bytes per stored weight."""
    return _WEIGHT_BYTES[check(precision)]


def compute_format(precision: str) -> str:
    """The tensor-core format the GEMMs run in."""
    return _COMPUTE[check(precision)]


def default_kv_bytes(precision: str) -> float:
    """Bytes per cached K or V value for this weight precision."""
    return _KV_BYTES[check(precision)]
