"""Performance model: step time, KV capacity, calibration."""

from onshore.planner.perf.calibration import Calibration
from onshore.planner.perf.kv import kv_capacity_blocks, kv_capacity_tokens
from onshore.planner.perf.roofline import ReplicaSpec, StepModel

__all__ = ["Calibration", "ReplicaSpec", "StepModel", "kv_capacity_blocks", "kv_capacity_tokens"]
