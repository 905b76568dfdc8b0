"""``onshore serve``'s uvicorn server: it drains on SIGTERM instead of closing at once (docs/upgrades.md).

uvicorn, on SIGTERM, closes its listening socket within 0.1 s, so a load balancer that has not yet
seen the replica go still sends it new connections, which are refused. ``DrainingServer`` instead:

1. at the first SIGTERM or SIGINT tells the app (``Lifecycle.begin_drain``: ``/readyz`` answers
   503 with a ``draining`` check) and goes on serving for ``server.drain_delay_s``, every response
   now carrying ``Connection: close``, so keep-alive clients open their next connection elsewhere;
2. then stops accepting connections and gives the requests and streams under way ``server.drain_s``
   to finish; what is left after that is cut (cancelled, as uvicorn does at its own timeout);
3. then runs the app's lifespan shutdown (``Services.stop``: the ledger and audit sinks write what
   they hold, or spool it), logs how long it took, and returns: the process exits 0.

A second signal skips what is left of the delay and of the grace (in-flight requests are cut) but
still flushes the ledger; a third exits without the flush (uvicorn's forced exit), which the spool
files and the ledger's flush interval bound. Signals are only flagged in the handler; the loop acts
on them at its next tick (every 0.1 s).

With ``server.workers`` > 1, uvicorn's supervisor sends SIGTERM to every worker when it gets one;
``DrainingMultiprocess`` makes each worker a ``DrainingServer`` and forwards later signals too (the
supervisor otherwise ignores everything while it waits for its workers).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
from dataclasses import dataclass
from types import FrameType

from uvicorn import Config, Server
from uvicorn.supervisors.multiprocess import Multiprocess, Process

from onshore.lifecycle import DRAIN_STATE

log = logging.getLogger("onshore.serve")

_CLOSE = (b"connection", b"close")
_POLL_S = 0.05
_CANCEL_WAIT_S = 2.0  # how long cancelled requests get to record their end before the lifespan stops


@dataclass(frozen=True, slots=True)
class DrainTimes:
    """``server.drain_delay_s`` and ``server.drain_s``."""

    delay_s: float
    grace_s: float


class DrainingServer(Server):
    def __init__(self, config: Config, times: DrainTimes) -> None:
        super().__init__(config)
        self._times = times
        self._signals = 0
        self._signalled_at: float | None = None
        self._told_app = False

    # --- the signal ------------------------------------------------------------------------------

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Not appended to uvicorn's captured signals: uvicorn raises those again once it has shut
        # down, and the process would then end killed by SIGTERM instead of exiting 0.
        self._signals += 1
        if self._signals == 1:
            self._signalled_at = time.monotonic()
            if not self.started:
                self.should_exit = True  # still starting: not in any load balancer yet, no delay
        elif self._signals == 2:
            self.should_exit = True  # the rest of the delay and of the grace are skipped
        else:
            self.force_exit = True

    async def on_tick(self, counter: int) -> bool:
        signalled = self._signalled_at
        if signalled is not None:
            if not self._told_app:
                self._begin_drain()
            if time.monotonic() - signalled >= self._times.delay_s:
                self.should_exit = True
        should_exit = await super().on_tick(counter)
        if signalled is not None:
            # uvicorn rebuilds the default headers every second; a response whose headers say
            # "close" also makes uvicorn close its connection once the response is sent.
            headers = self.server_state.default_headers
            if _CLOSE not in headers:
                self.server_state.default_headers = [*headers, _CLOSE]
        return should_exit

    def _begin_drain(self) -> None:
        self._told_app = True
        begin = self.lifespan.state.get(DRAIN_STATE) if self.started else None
        if callable(begin):
            begin()
        log.info(
            "draining",
            extra={
                "delay_s": self._times.delay_s,
                "grace_s": self._times.grace_s,
                "in_flight": len(self.server_state.tasks),
            },
        )

    # --- after the delay -------------------------------------------------------------------------

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        stopped_accepting = time.monotonic()
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        state = self.server_state
        in_flight = len(state.tasks)
        # Idle connections close now; busy ones close once their response is sent.
        for connection in list(state.connections):
            connection.shutdown()
        deadline = stopped_accepting + self._times.grace_s
        # Polled, as uvicorn does: nothing signals that its sets of connections and tasks emptied.
        while self._under_way() and time.monotonic() < deadline and self._signals < 2:  # noqa: ASYNC110
            await asyncio.sleep(_POLL_S)
        cut = list(state.tasks)
        if cut:
            log.warning("cutting requests still under way at the end of the drain", extra={"cut": len(cut)})
            for task in cut:
                task.cancel(msg="cut at the end of the drain")
            await asyncio.wait(cut, timeout=_CANCEL_WAIT_S)
        if not self.force_exit:
            await self.lifespan.shutdown()  # the app's Services.stop: the ledger and audit flush here
        began = self._signalled_at if self._signalled_at is not None else stopped_accepting
        log.info(
            "drained in %.1f s with %d in flight",
            time.monotonic() - began,
            in_flight,
            extra={
                "drained_s": round(time.monotonic() - began, 3),
                "in_flight": in_flight,
                "cut": len(cut),
                "flushed": not self.force_exit,
            },
        )

    def _under_way(self) -> bool:
        return bool(self.server_state.connections or self.server_state.tasks)


class _Worker(Process):
    """A uvicorn worker process whose server drains."""

    def __init__(self, config: Config, sockets: list[socket.socket], times: DrainTimes) -> None:
        self._times = times  # set before the base class captures ``self.target`` for the child
        super().__init__(config, sockets)

    @property
    def server(self) -> Server:
        if self._server is None:
            self._server = DrainingServer(self.config, self._times)
        return self._server


class DrainingMultiprocess(Multiprocess):
    """uvicorn's supervisor with draining workers, which forwards signals while they drain."""

    def __init__(self, config: Config, sockets: list[socket.socket], times: DrainTimes) -> None:
        super().__init__(config, sockets)
        self._times = times
        self._stops = 0  # SIGTERMs and SIGINTs taken from the queue by uvicorn's loop

    def _worker(self) -> Process:
        process = _Worker(self.config, self.sockets, self._times)
        process.start()
        return process

    def init_processes(self) -> None:
        self.processes = [self._worker() for _ in range(self.processes_num)]

    def keep_subprocess_alive(self) -> None:
        # uvicorn's, replacing a dead worker with a draining one; a worker that never started
        # (exit 3) stops the supervisor, since every restart would fail the same way.
        if self.should_exit.is_set():
            return
        for index, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()
            process.join()
            if process.exitcode == 3:
                log.error("a worker failed to start; stopping", extra={"pid": process.pid})
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            log.warning("a worker died; starting another", extra={"pid": process.pid})
            self.processes[index] = self._worker()

    def handle_hup(self) -> None:
        # uvicorn's would start plain (non-draining) workers; a rolling restart of the replicas
        # behind the load balancer is the way to reload (docs/upgrades.md).
        log.warning("SIGHUP is not supported by onshore serve; restart the process instead")

    def handle_ttin(self) -> None:
        log.warning("SIGTTIN is not supported by onshore serve; set server.workers instead")

    def handle_term(self) -> None:
        self._stops += 1
        super().handle_term()

    def handle_int(self) -> None:
        self._stops += 1
        super().handle_int()

    def join_all(self) -> None:
        # Every worker got one SIGTERM (terminate_all). A later SIGTERM or SIGINT to this process
        # reaches them too, so a second signal shortens the drain as with one worker; so does one
        # that uvicorn's loop took from the queue together with the first.
        self.signal_queue[:0] = [signal.SIGTERM] * (self._stops - 1)
        for process in self.processes:
            while process.process.is_alive():
                self._forward_signals()
                process.process.join(_POLL_S * 2)

    def _forward_signals(self) -> None:
        # Forwarded as SIGINT, which the worker counts as SIGTERM: a SIGTERM sent right after
        # terminate_all's, before the worker's handler ran, would merge with it (a pending signal
        # is not queued twice), and the worker would drain in full (1 run in 4 on a loaded machine).
        while self.signal_queue:
            sig = self.signal_queue.pop(0)
            if sig not in (signal.SIGTERM, signal.SIGINT):
                continue
            for process in self.processes:
                if process.pid is not None and process.process.is_alive():
                    os.kill(process.pid, signal.SIGINT)


def run(config: Config, times: DrainTimes) -> bool:
    """Serve until drained; False when a single-process server never started (uvicorn's exit 3)."""
    if config.workers > 1:
        DrainingMultiprocess(config, [config.bind_socket()], times).run()
        return True
    config.load_app()  # as uvicorn.run: an import error exits now, with one line
    server = DrainingServer(config, times)
    server.run()
    return server.started
