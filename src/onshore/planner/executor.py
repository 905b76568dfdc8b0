"""Executors for sizing sweeps: in-process, a local process pool, and (``planner.cluster``) Dask or
Ray. Each is a context manager: leaving it (or ``close``) stops what it started."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Self, TypeVar

from onshore.planner.errors import PlannerError

T = TypeVar("T")
R = TypeVar("R")

EXECUTORS = ("local", "serial", "dask", "ray")


def default_workers() -> int:
    """The CPUs this process may run on."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


class ExecutorBase:
    """What the shipped executors share: ``parallelism`` (jobs at once; the sizing sweep prunes
    between rounds that wide) and a ``close`` that a ``with`` block calls."""

    @property
    def parallelism(self) -> int:
        return 1

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        raise NotImplementedError

    def close(self) -> None:
        """Stop whatever this executor started (nothing, unless it says otherwise)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SerialExecutor(ExecutorBase):
    """Runs everything in this process, in order (tests, one-core machines)."""

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        for i, item in enumerate(items):
            yield i, fn(item)


class LocalProcessExecutor(ExecutorBase):
    """A ``concurrent.futures`` process pool; ``fn`` and items must be picklable.

    Inside a ``with`` block the pool is started on first use and kept until the block ends, so a
    sweep run in several rounds does not start one per round; outside one, each call has its own.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or default_workers()
        self._pool: ProcessPoolExecutor | None = None
        self._keep = False

    @property
    def parallelism(self) -> int:
        return self.workers

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        if self.workers <= 1 or len(items) <= 1:
            yield from SerialExecutor().map_unordered(fn, items)
            return
        if not self._keep:
            with ProcessPoolExecutor(max_workers=self.workers) as pool:
                yield from _completed(pool, fn, items)
            return
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers)
        yield from _completed(self._pool, fn, items)

    def __enter__(self) -> Self:
        self._keep = True
        return self

    def close(self) -> None:
        self._keep = False
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


def _completed(
    pool: ProcessPoolExecutor, fn: Callable[[T], R], items: Sequence[T]
) -> Iterator[tuple[int, R]]:
    futures = {pool.submit(fn, item): i for i, item in enumerate(items)}
    for fut in as_completed(futures):
        yield futures[fut], fut.result()


def make_executor(
    kind: str = "local", workers: int | None = None, address: str | None = None
) -> ExecutorBase:
    """An executor by name (``EXECUTORS``); ``address`` is a Dask scheduler or Ray cluster.

    Dask and Ray are imported only when their executor first runs (the planner-cluster extra).
    """
    if kind == "serial":
        return SerialExecutor()
    if kind == "local":
        return LocalProcessExecutor(workers)
    if kind in ("dask", "ray"):
        from onshore.planner.cluster import DaskExecutor, RayExecutor  # noqa: PLC0415

        return DaskExecutor(address, workers) if kind == "dask" else RayExecutor(address, workers)
    raise PlannerError(f"unknown executor {kind!r}; use one of {', '.join(EXECUTORS)}")
