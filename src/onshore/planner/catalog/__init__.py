"""Editable catalogs of GPUs, models and serving engines, shipped as CSV files inside the package.

Every row carries a ``source`` column; see ``data/gpus.csv``, ``data/models.csv`` and
``data/engines.csv``.
"""

from onshore.planner.catalog.engines import EngineDefaults, engine_defaults, load_engines
from onshore.planner.catalog.gpus import Gpu, gpu, load_gpus
from onshore.planner.catalog.models import Model, load_models, model

__all__ = [
    "EngineDefaults",
    "Gpu",
    "Model",
    "engine_defaults",
    "gpu",
    "load_engines",
    "load_gpus",
    "load_models",
    "model",
]
