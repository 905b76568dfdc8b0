"""Interfaces the planner needs from the outside world, so it imports nothing from it.

``UsageReader`` is implemented by Onshore's usage store (a running platform plans its own growth
with ``onshore plan size --from-usage``); ``Executor`` by a local process pool here, or by a Ray or
Dask adapter to take a sizing sweep past one machine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import NamedTuple, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class UsageRecord(NamedTuple):
    """One served request: when (UNIX seconds), and its prompt and completion token counts."""

    time: float
    prompt_tokens: int
    completion_tokens: int


class UsageReader(Protocol):
    """Per-request usage rows over a time window (``None`` = unbounded)."""

    def usage_records(
        self, start: datetime | None = None, end: datetime | None = None
    ) -> Iterable[UsageRecord]:
        """Rows in time order or not; the planner does not rely on order."""
        ...


class Executor(Protocol):
    """Runs ``fn`` over ``items`` (possibly in parallel), yielding results as they complete.

    Results are yielded as ``(index, result)`` so completion order does not matter.
    """

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]: ...
