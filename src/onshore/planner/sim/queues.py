"""Per-replica request queues of one simulation: padded 2-D arrays, one row per replica.

Requests are routed before the run, so each replica's FIFO is known up front: row ``r`` holds the
requests sent to replica ``r`` in arrival order, padded with an infinite arrival time so that "the
next arrival of each replica" is one fancy-indexed read. The engine writes first-token and finish
times back into the same layout.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from onshore.planner.sim.workload import Workload

IntArray = npt.NDArray[np.int64]


class Queues:
    """Per-replica FIFO of requests (padded 2-D arrays, one row per replica)."""

    def __init__(self, wl: Workload, replicas: int, assign: IntArray, lag: float) -> None:
        n = wl.n
        self.counts = np.bincount(assign, minlength=replicas).astype(np.int64)
        width = int(self.counts.max()) + 1  # one inf column past every row's end
        order = np.argsort(assign, kind="stable")
        starts = np.concatenate(([0], np.cumsum(self.counts)[:-1]))
        rows = assign[order]
        cols = np.arange(n, dtype=np.int64) - starts[rows]
        self.req = np.full((replicas, width), -1, dtype=np.int64)
        self.req[rows, cols] = order
        self.arr = np.full((replicas, width), np.inf)
        self.prompt = np.zeros((replicas, width), dtype=np.int64)
        self.prompt[rows, cols] = wl.prompt[order]
        self.out = np.ones((replicas, width), dtype=np.int64)
        self.out[rows, cols] = wl.output[order]
        self.cached = np.zeros((replicas, width), dtype=np.int64)  # prefix-cache hits (tokens)
        if wl.cached is not None:
            self.cached[rows, cols] = wl.cached[order]
        self.first = np.full((replicas, width), np.nan)
        self.done = np.full((replicas, width), np.nan)
        if wl.arrival is not None:
            self.arr[rows, cols] = wl.arrival[order] + lag
            self.generated = self.counts.copy()
        else:
            clients = np.full(replicas, wl.concurrency // replicas, dtype=np.int64)
            clients[: wl.concurrency % replicas] += 1
            self.generated = np.minimum(clients, self.counts)
            # client j is sticky to replica j % replicas; every client sends its first request at 0
            self.arr[np.arange(width) < self.generated[:, None]] = lag

    @property
    def total(self) -> int:
        """Requests in all queues."""
        return int(self.counts.sum())
