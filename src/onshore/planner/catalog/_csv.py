"""Reading the packaged CSV catalogs (I/O kept here, at the edge)."""

from __future__ import annotations

import csv
import io
from importlib import resources
from pathlib import Path


def read_rows(name: str, path: Path | None = None) -> list[dict[str, str]]:
    """Rows of a catalog CSV: the packaged ``data/<name>`` unless ``path`` overrides it."""
    if path is not None:
        text = path.read_text(encoding="utf-8")
    else:
        text = resources.files("onshore.planner.catalog").joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def num(row: dict[str, str], key: str, default: float = 0.0) -> float:
    """A numeric cell, ``default`` when empty."""
    cell = row.get(key, "").strip()
    return float(cell) if cell else default
