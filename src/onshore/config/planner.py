"""Capacity-plan settings (``planner:``): the console's Capacity page and ``plan size --from-ledger``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


PlannerPrecision = Literal["bf16", "fp8", "fp4", "int4"]


class TierSlo(_Strict):
    """A tier's latency targets at the peak (p99); a field left out is the planner section's own."""

    ttft_p99_ms: float | None = Field(None, gt=0)
    tpot_p99_ms: float | None = Field(None, gt=0)


def _fp8_only() -> list[PlannerPrecision]:
    return ["fp8"]


class PlannerSettings(_Strict):
    """The capacity plan from the ledger (the console's Capacity page, `onshore plan size --from-ledger`)."""

    # Served model name -> planner catalog id (`onshore plan catalog`), for names the catalog does not
    # know by itself (it knows its ids, a few aliases and Hugging Face ids, also as `upstream_name`).
    models: dict[str, str] = Field(default_factory=dict)
    # The search space: small by default, so a plan answers in seconds.
    gpus: list[Annotated[str, Field(min_length=1, max_length=32)]] = Field(
        default_factory=lambda: ["h100", "h200", "b200"], min_length=1
    )
    tensor_parallel: list[Annotated[int, Field(ge=1, le=64)]] = Field(
        default_factory=lambda: [1, 2, 4, 8], min_length=1
    )
    precisions: list[PlannerPrecision] = Field(default_factory=_fp8_only, min_length=1)
    # The latency targets at the peak (p99).
    ttft_p99_ms: float = Field(2000.0, gt=0)
    tpot_p99_ms: float = Field(60.0, gt=0)
    # Per tier (``onshore limits set --org NAME --tier``): a model is sized at its peak to the strictest
    # SLO among the tiers whose organisations sent it interactive traffic then. A tier not listed, and
    # a field not given, takes the two targets above, so nothing changes until a tier is configured.
    # The batch tier has no latency target (its work fills spare capacity), so it cannot be listed.
    tier_slos: dict[Literal["priority", "standard"], TierSlo] = Field(default_factory=dict)
