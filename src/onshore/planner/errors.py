"""The one error type the planner raises for problems a user can fix (bad ids, bad inputs)."""

from __future__ import annotations


class PlannerError(ValueError):
    """A planner input is invalid: an unknown id, an impossible configuration, a malformed file."""
