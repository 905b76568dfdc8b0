"""Prometheus with several worker processes (``onshore serve --workers N``).

Each worker is its own process with its own counters; a scrape reaches one of them. In
prometheus_client's multiprocess mode every worker writes its values to memory-mapped files in
``PROMETHEUS_MULTIPROC_DIR`` and the worker that answers ``/metrics`` sums them all. ``onshore serve``
makes a fresh directory per start, before any worker imports ``prometheus_client`` (which reads the
variable at import), so a worker never starts from a dead run's files and no pid can be reused.

Gauges that read a worker's state (in-flight requests, the ledger's buffer, a backend's health) are
written by each worker on ``refresh`` (periodically, and just before it answers a scrape) and
combined by their ``multiprocess_mode``. Those of workers that died are removed on the next refresh
(``mark_process_dead``): uvicorn restarts a dead worker but never tells prometheus_client.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from typing import Literal

from prometheus_client import CollectorRegistry, Gauge, generate_latest, multiprocess

GaugeMode = Literal["livesum", "livemin", "livemax", "liveall", "livemostrecent"]

_LIVE_FILE = re.compile(r"^gauge_live[a-z]+_(\d+)\.db$")


class SharedGauges:
    def __init__(self, path: str) -> None:
        self._path = path
        self._gauges: list[tuple[Gauge, Callable[[], Iterable[tuple[str, float]]]]] = []
        self._registry = CollectorRegistry()
        # prometheus_client leaves these two unannotated.
        multiprocess.MultiProcessCollector(self._registry, path=path)  # type: ignore[no-untyped-call]

    def add(self, gauge: Gauge, read: Callable[[], Iterable[tuple[str, float]]]) -> None:
        self._gauges.append((gauge, read))

    def refresh(self) -> None:
        for gauge, read in self._gauges:
            for label, value in read():
                gauge.labels(label).set(value)
        self._forget_dead_workers()

    def render(self) -> bytes:
        self.refresh()
        return generate_latest(self._registry)

    def _forget_dead_workers(self) -> None:
        try:
            names = os.listdir(self._path)
        except FileNotFoundError:
            return
        me = os.getpid()
        for name in names:
            found = _LIVE_FILE.match(name)
            if found is None:
                continue
            pid = int(found.group(1))
            if pid != me and not _alive(pid):
                multiprocess.mark_process_dead(pid, self._path)  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process holds that pid: not ours, but alive
        return True
    return True
