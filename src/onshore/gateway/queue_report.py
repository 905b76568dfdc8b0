"""What the fair queue reports: the outcome of each wait, the observer metrics hang on, and stats.

Apart from ``fair_queue.py`` so the queue's module holds only its algorithm.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from onshore.domain.limits import Tier

WaitOutcome = Literal["admitted", "timeout", "left", "full"]


class QueueObserver(Protocol):
    """Where the queue reports what metrics need (the gateway's wiring turns these into Prometheus).

    ``on_wait`` is called exactly once for every ``slot()`` of a model with a capacity: ``admitted``
    (``waited_s`` 0.0 when no wait was needed), ``timeout`` (the deadline passed), ``left`` (the
    request was cancelled while waiting: the client went away) or ``full`` (refused at once, the queue
    held ``max_queued``). ``on_served`` is called once per admitted request when its block ends, with
    the tokens it was charged (``Slot.charge``'s figure, or the estimate when it was never called).
    """

    def on_wait(self, model: str, org_id: str, tier: Tier, waited_s: float, outcome: WaitOutcome) -> None: ...

    def on_served(self, model: str, org_id: str, tier: Tier, tokens: int) -> None: ...


@dataclass(frozen=True, slots=True)
class ModelQueueStats:
    """One model's queue at one moment (``FairQueue.stats``), keyed by (org id, tier)."""

    capacity: int
    in_flight: int
    waiting: int
    waiting_by: Mapping[tuple[str, Tier], int]
    served_tokens: Mapping[tuple[str, Tier], int]  # since start, requests whose block has ended
