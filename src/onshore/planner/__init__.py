"""Onshore's capacity planner: from national demand to a sized, costed GPU fleet, by simulation.

Pure model and simulation code: it imports nothing from the gateway, the store, the API or the
CLI. The usage ledger comes in through :class:`onshore.planner.ports.UsageReader`.
"""

from onshore.planner.cost import CostInputs, FleetCost, fleet_cost
from onshore.planner.demand import Demand, UserDemand, from_usage, from_users
from onshore.planner.errors import PlannerError
from onshore.planner.executor import LocalProcessExecutor, SerialExecutor
from onshore.planner.ports import Executor, UsageReader, UsageRecord
from onshore.planner.predict import Scenario, parse_row, predict, public_metrics, read_scenarios
from onshore.planner.sizing import Candidate, Slo, default_candidates, size

__all__ = [
    "Candidate",
    "CostInputs",
    "Demand",
    "Executor",
    "FleetCost",
    "LocalProcessExecutor",
    "PlannerError",
    "Scenario",
    "SerialExecutor",
    "Slo",
    "UsageReader",
    "UsageRecord",
    "UserDemand",
    "default_candidates",
    "fleet_cost",
    "from_usage",
    "from_users",
    "parse_row",
    "predict",
    "public_metrics",
    "read_scenarios",
    "size",
]
