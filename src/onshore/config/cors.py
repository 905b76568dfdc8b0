"""CORS settings: which browser origins may call the partner API (off while both lists are empty)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

_ORIGIN = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$"  # scheme://host[:port], as browsers send it; never "*"
Origin = Annotated[str, Field(pattern=_ORIGIN)]


class CorsSettings(BaseModel):
    """Browser apps calling the partner API; see the README's CORS section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allow_origins: list[Origin] = Field(default_factory=list)
    # Organisation name -> the origins its keys may be used from (on top of `allow_origins`).
    org_origins: dict[str, list[Origin]] = Field(default_factory=dict)
    max_age_s: int = Field(600, ge=0, le=86_400)  # how long a browser may cache a preflight
