"""Executors for sizing sweeps: in-process, and a local process pool."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


class SerialExecutor:
    """Runs everything in this process, in order (tests, one-core machines)."""

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        for i, item in enumerate(items):
            yield i, fn(item)


class LocalProcessExecutor:
    """A ``concurrent.futures`` process pool; ``fn`` and items must be picklable."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or max(
            1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
        )

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        if self.workers <= 1 or len(items) <= 1:
            yield from SerialExecutor().map_unordered(fn, items)
            return
        with ProcessPoolExecutor(max_workers=self.workers) as pool:
            futures = {pool.submit(fn, item): i for i, item in enumerate(items)}
            for fut in as_completed(futures):
                yield futures[fut], fut.result()
