"""Settings of the fair queue: tier weights, how long and how many may wait, and batches' share."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from onshore.domain.limits import DEFAULT_TIER_WEIGHTS, Tier


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _default_tier_weights() -> dict[Tier, float]:
    return dict(DEFAULT_TIER_WEIGHTS)


class SchedulingSettings(_Strict):
    """Weighted fair queuing in tokens across organisations when a model is at `max_in_flight`."""

    tier_weights: dict[Tier, Annotated[float, Field(gt=0, le=1_000_000)]] = Field(
        default_factory=_default_tier_weights
    )
    # A request that has waited this long gets 503 `queue_timeout` (the engine never sees it).
    queue_timeout_s: float = Field(30.0, gt=0, le=3600.0)
    # Requests waiting per model; past it new ones get 503 `queue_timeout` at once.
    max_queued: int = Field(10_000, ge=0)
    # The share of a model's places a batch's requests may hold (at least one): the rest stay free
    # for partners' interactive requests, which otherwise wait for a batch request to end.
    batch_max_share: float = Field(0.75, gt=0, le=1)

    @field_validator("tier_weights")
    @classmethod
    def _every_tier(cls, weights: dict[Tier, float]) -> dict[Tier, float]:
        return {**_default_tier_weights(), **weights}
