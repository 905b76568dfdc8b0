"""Editable catalogs of GPUs and models, shipped as CSV files inside the package.

Every row carries a ``source`` column; see ``data/gpus.csv`` and ``data/models.csv``.
"""

from onshore.planner.catalog.gpus import Gpu, gpu, load_gpus
from onshore.planner.catalog.models import Model, load_models, model

__all__ = ["Gpu", "Model", "gpu", "load_gpus", "load_models", "model"]
