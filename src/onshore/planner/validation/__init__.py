"""Validation of the planner against published measurements, and the calibration fit."""

from onshore.planner.validation.dataset import Point, load_points
from onshore.planner.validation.run import Comparison, compare, error_table

__all__ = ["Comparison", "Point", "compare", "error_table", "load_points"]
