"""`onshore serve` with a profiler switched by signals: used by ``batch_profile.py``, never on its own.

SIGUSR1 starts cProfile on the event loop's thread and, in the other threads, around each
``asyncio.to_thread`` work item and each ledger/audit writer cycle (thread CPU time); SIGUSR2 stops
it and writes ``$BATCH_PROFILE_OUT`` (the loop) and ``$BATCH_PROFILE_OUT.threads`` (the rest). Without
``$BATCH_PROFILE_OUT`` it is plain ``onshore``, as when run under ``valgrind --tool=callgrind``.
"""

from __future__ import annotations

import concurrent.futures.thread
import cProfile
import os
import pstats
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from onshore.store.sink import BufferedSink

_loop_profile = cProfile.Profile()
_thread_profiles: dict[int, cProfile.Profile] = {}
_active = False


def _profiled(function: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        if not _active:
            return function(*args, **kwargs)
        ident = threading.get_ident()
        profile = _thread_profiles.get(ident)
        if profile is None:
            profile = _thread_profiles[ident] = cProfile.Profile(time.thread_time)
        profile.enable()
        try:
            return function(*args, **kwargs)
        finally:
            profile.disable()

    return run


def _start(*_: object) -> None:
    global _active  # noqa: PLW0603 - the switch the signal handlers share
    _active = True
    _loop_profile.enable()


def _stop(*_: object) -> None:
    global _active  # noqa: PLW0603
    _active = False
    _loop_profile.disable()
    path = os.environ["BATCH_PROFILE_OUT"]
    _loop_profile.dump_stats(path)
    profiles = list(_thread_profiles.values())
    if profiles:
        stats = pstats.Stats(profiles[0])
        for profile in profiles[1:]:
            stats.add(profile)
        stats.dump_stats(path + ".threads")


def main() -> None:
    if os.environ.get("BATCH_PROFILE_OUT"):
        signal.signal(signal.SIGUSR1, _start)
        signal.signal(signal.SIGUSR2, _stop)
        work_item: Any = concurrent.futures.thread._WorkItem
        work_item.run = _profiled(work_item.run)
        BufferedSink._cycle = _profiled(BufferedSink._cycle)  # type: ignore[method-assign]
    sys.argv = ["onshore", *sys.argv[1:]]
    from onshore.cli.main import main as onshore  # noqa: PLC0415 - after the patches

    onshore()


if __name__ == "__main__":
    main()
