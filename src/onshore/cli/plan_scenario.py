"""``plan size --scenario FILE.yaml``: a file of option values, under the flags typed with it.

Kept apart from ``plan.py`` (one command per screen). ``merge_scenario`` fills the command's options
from the file (a flag typed on the command line wins; a value from the file beats the option's
default) and says which options the file set, so the ``--from-ledger`` path can tell a value the
planner wrote in a file from a default it should leave to the config's ``planner`` section, and
refuse file keys it has no use for as it refuses the same flags typed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

COMMAND_LINE = "command line"
SCENARIO_FILE = "scenario file"


def typed(ctx: click.Context, name: str) -> bool:
    """Whether option ``name`` was given on the command line (not a default, nor an environment value)."""
    return ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE


def merge_scenario(ctx: click.Context, opts: dict[str, Any]) -> tuple[dict[str, Any], frozenset[str]]:
    """``opts`` with the values of the ``--scenario`` YAML under the flags given on the command line,
    and the names of the options whose value came from the file (a YAML list arrives comma-joined,
    as the flag takes it).

    Raises:
        PlannerError: the file cannot be read, is not a mapping, or names an option ``plan size``
            does not have.
    """
    if not opts["scenario"]:
        return opts, frozenset()
    import yaml  # noqa: PLC0415

    from onshore.planner.errors import PlannerError  # noqa: PLC0415

    try:
        data = yaml.safe_load(Path(opts["scenario"]).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise PlannerError(f"cannot read scenario {opts['scenario']}: {exc}") from exc
    if not isinstance(data, dict):
        raise PlannerError("the scenario YAML must be a mapping of option names to values")
    merged = dict(opts)
    from_file: set[str] = set()
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name not in opts:
            raise PlannerError(f"unknown key {key!r} in {opts['scenario']}")
        if not typed(ctx, name):
            merged[name] = ",".join(map(str, value)) if isinstance(value, list) else value
            from_file.add(name)
    return merged, frozenset(from_file)


def set_by(ctx: click.Context, name: str, from_file: frozenset[str]) -> str | None:
    """Who set option ``name`` for this run: "command line", "scenario file", or None (its default)."""
    if typed(ctx, name):
        return COMMAND_LINE
    return SCENARIO_FILE if name in from_file else None
