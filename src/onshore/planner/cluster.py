"""Executors that run a sizing sweep on a cluster engine: Dask (recommended) or Ray.

Both are optional (``pip install 'onshore[planner-cluster]'``) and imported only when an executor
starts, so the planner imports without them. Each either joins a running cluster (``address``:
``tcp://scheduler:8786`` for Dask, ``ray://head:10001`` or ``auto`` for Ray) or, without one,
starts a local cluster of ``workers`` processes for the life of the executor. The function and
the jobs travel by pickle, as with the local process pool; the workers need the same ``onshore``
version installed.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from onshore.planner.errors import PlannerError
from onshore.planner.executor import ExecutorBase, default_workers

T = TypeVar("T")
R = TypeVar("R")

EXTRA_HINT = "install the planner-cluster extra: pip install 'onshore[planner-cluster]'"


def _optional(module: str, who: str) -> Any:
    """An optional engine, imported on first use (typed ``Any``: mypy never needs it installed)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise PlannerError(f"{who} needs {module}: {EXTRA_HINT}") from exc


class DaskExecutor(ExecutorBase):
    """A Dask ``distributed`` client: on the scheduler at ``address``, or on a LocalCluster.

    ``processes=False`` runs the local workers as threads of this process (quick to start; tests):
    the simulator holds the GIL most of the time, so real sweeps want processes.
    """

    def __init__(
        self, address: str | None = None, workers: int | None = None, processes: bool = True
    ) -> None:
        self.address, self.workers, self.processes = address, workers or default_workers(), processes
        self._client: Any = None
        self._cluster: Any = None

    def _start(self) -> Any:
        if self._client is None:
            distributed = _optional("distributed", "the Dask executor")
            if self.address:
                self._client = distributed.Client(self.address)
            else:
                self._cluster = distributed.LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=self.processes,
                    dashboard_address=None,
                )
                self._client = distributed.Client(self._cluster)
        return self._client

    @property
    def parallelism(self) -> int:
        return max(1, int(sum(self._start().nthreads().values())))

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        if not items:
            return
        client = self._start()
        futures = client.map(fn, list(items), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        for fut in _optional("distributed", "the Dask executor").as_completed(futures):
            yield index[fut.key], fut.result()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._client = self._cluster = None


class RayExecutor(ExecutorBase):
    """Ray tasks: on the cluster at ``address`` (``ray://...``, ``auto``), or a local ``ray.init``.

    A local Ray is started with ``workers`` CPUs and shut down by ``close``; one that was already
    running (or a remote one) is left as it was.
    """

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        self.address, self.workers = address, workers or default_workers()
        self._started = False
        self._remote: dict[Callable[..., Any], Any] = {}

    def _ray(self) -> Any:
        ray = _optional("ray", "the Ray executor")
        if not ray.is_initialized():
            opts: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if self.address:
                ray.init(address=self.address, **opts)
            else:
                ray.init(num_cpus=self.workers, **opts)
            self._started = True
        return ray

    @property
    def parallelism(self) -> int:
        return max(1, int(self._ray().cluster_resources().get("CPU", 1)))

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        if not items:
            return
        ray = self._ray()
        remote = self._remote.setdefault(fn, ray.remote(fn))
        refs = [remote.remote(item) for item in items]
        index = {ref: i for i, ref in enumerate(refs)}
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield index[done[0]], ray.get(done[0])

    def close(self) -> None:
        if self._started:
            _optional("ray", "the Ray executor").shutdown()
            self._started = False
        self._remote.clear()
