"""The planner's public surface and its import boundary."""

from __future__ import annotations

import subprocess
import sys

import onshore.planner


def test_public_api_is_pinned() -> None:
    assert sorted(onshore.planner.__all__) == [
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


def test_planner_imports_nothing_from_the_gateway_side() -> None:
    code = (
        "import pkgutil, importlib, sys, onshore.planner as p\n"
        "for m in pkgutil.walk_packages(p.__path__, 'onshore.planner.'): importlib.import_module(m.name)\n"
        "bad = [m for m in sys.modules if m.split('.')[:2] in (['onshore', x] for x in "
        "('api', 'gateway', 'store', 'backends', 'cli'))]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_cli_module_defers_the_planner_import() -> None:
    code = "import sys, onshore.cli.plan\nprint('onshore.planner' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
