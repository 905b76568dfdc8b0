"""Model catalog: the architecture numbers the performance model needs."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from onshore.planner.catalog._csv import num, read_rows
from onshore.planner.errors import PlannerError


@dataclass(frozen=True, slots=True)
class Model:
    """One model architecture. Parameter counts in units (not billions) once loaded."""

    id: str
    name: str
    hf_id: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    moe_intermediate: int
    vocab: int
    experts: int
    experts_active: int
    shared_experts: int
    moe_layers: int
    params_total: float
    params_active: float
    kv_values_per_token_layer: int
    attn_flop_width: int
    sliding_window: int
    sliding_layers: int
    source: str
    notes: str

    @property
    def is_moe(self) -> bool:
        return self.experts > 0

    @property
    def embedding_params(self) -> float:
        """Input embedding table: looked up, never streamed whole, so not read per step."""
        return float(self.vocab * self.hidden)

    @property
    def routed_expert_params(self) -> float:
        """Parameters in routed experts (SwiGLU: 3 matrices per expert)."""
        return float(self.moe_layers * self.experts * 3 * self.hidden * self.moe_intermediate)

    @property
    def dense_params(self) -> float:
        """Parameters every token touches (attention, dense MLPs, shared experts, lm_head)."""
        return self.params_total - self.routed_expert_params - self.embedding_params

    @property
    def full_attention_layers(self) -> int:
        return self.layers - self.sliding_layers


def _parse(row: dict[str, str]) -> Model:
    return Model(
        id=row["id"],
        name=row["name"],
        hf_id=row["hf_id"],
        layers=int(num(row, "layers")),
        hidden=int(num(row, "hidden")),
        heads=int(num(row, "heads")),
        kv_heads=int(num(row, "kv_heads")),
        head_dim=int(num(row, "head_dim")),
        intermediate=int(num(row, "intermediate")),
        moe_intermediate=int(num(row, "moe_intermediate")),
        vocab=int(num(row, "vocab")),
        experts=int(num(row, "experts")),
        experts_active=int(num(row, "experts_active")),
        shared_experts=int(num(row, "shared_experts")),
        moe_layers=int(num(row, "moe_layers")),
        params_total=num(row, "params_total_b") * 1e9,
        params_active=num(row, "params_active_b") * 1e9,
        kv_values_per_token_layer=int(num(row, "kv_values_per_token_layer")),
        attn_flop_width=int(num(row, "attn_flop_width")),
        sliding_window=int(num(row, "sliding_window")),
        sliding_layers=int(num(row, "sliding_layers")),
        source=row["source"],
        notes=row.get("notes", ""),
    )


_ALIASES = {
    "llama-2-70b-chat": "llama-2-70b",
    "llama-3.3-70b": "llama-3.1-70b",
    "deepseek-r1": "deepseek-v3",
    "meta-llama-3-8b": "llama-3.1-8b",
}


@cache
def _packaged() -> dict[str, Model]:
    return {m.id: m for m in map(_parse, read_rows("models.csv"))}


def load_models(path: Path | None = None) -> dict[str, Model]:
    """All models by id, from the packaged catalog or an edited copy at ``path``."""
    if path is None:
        return dict(_packaged())
    return {m.id: m for m in map(_parse, read_rows("models.csv", path))}


def model(model_id: str) -> Model:
    """One model by catalog id or Hugging Face id (case-insensitive)."""
    key = model_id.strip().lower()
    key = _ALIASES.get(key, key)
    models = _packaged()
    if key in models:
        return models[key]
    for m in models.values():
        if m.hf_id.lower() == key or m.hf_id.lower().split("/")[-1] == key:
            return m
    raise PlannerError(f"unknown model {model_id!r}; known: {', '.join(sorted(models))}")
