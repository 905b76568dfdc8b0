"""Pick a backend for a public model: healthy first, then least in flight, round-robin on ties.

A backend that fails is marked down and skipped until a health probe sees it answer again (or,
when every backend of a model is down, tried anyway: better a fast error than none at all).

Residency is a filter on the candidates, never a preference: a request allowed only ``{"KR"}`` is
offered only backends in KR, under failover too. A model whose backends are all inside the allowed
set (the usual case) takes the unfiltered path, so residency costs one subset test per request.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from onshore.domain.catalog import ModelRoute
from onshore.errors import ModelNotFound, ResidencyRefused
from onshore.gateway.clock import SystemClock
from onshore.ports import Backend, Clock

_RETRY_DOWN_AFTER_S = 10.0


@dataclass(slots=True)
class BackendState:
    """A backend's live state. ``with state:`` is the lease on one in-flight slot: taken around the
    whole call and response, released in ``__exit__`` however the request ends."""

    backend: Backend
    in_flight: int = 0
    down_since: float | None = None
    failures: int = 0

    @property
    def healthy(self) -> bool:
        return self.down_since is None

    def __enter__(self) -> BackendState:
        self.in_flight += 1
        return self

    def __exit__(self, *_: object) -> None:
        self.in_flight -= 1


@dataclass(slots=True)
class Candidate:
    route: ModelRoute
    state: BackendState


@dataclass(slots=True)
class _ModelEntry:
    candidates: list[Candidate]
    turn: itertools.count[int] = field(default_factory=itertools.count)
    jurisdictions: frozenset[str] = frozenset()  # where its backends are

    def within(self, allowed: frozenset[str] | None) -> list[Candidate]:
        if allowed is None or self.jurisdictions <= allowed:
            return self.candidates
        return [c for c in self.candidates if c.route.jurisdiction in allowed]


class Router:
    def __init__(self, backends: Iterable[Backend], routes: Iterable[ModelRoute], clock: Clock | None = None):
        self._clock: Clock = clock or SystemClock()
        self.states: dict[str, BackendState] = {b.name: BackendState(b) for b in backends}
        self._models: dict[str, _ModelEntry] = {}
        for route in routes:
            entry = self._models.setdefault(route.public_name, _ModelEntry([]))
            entry.candidates.append(Candidate(route, self.states[route.backend]))
            entry.jurisdictions = entry.jurisdictions | {route.jurisdiction}

    @property
    def models(self) -> Sequence[str]:
        return sorted(self._models)

    def serves(self, model: str) -> bool:
        return model in self._models

    def models_of(self, backend: str) -> list[str]:
        """The public models one backend serves (for operators' listings, not the hot path)."""
        return [
            m
            for m, entry in sorted(self._models.items())
            if any(c.route.backend == backend for c in entry.candidates)
        ]

    def serves_within(self, model: str, allowed: frozenset[str]) -> bool:
        """Does a backend in one of the ``allowed`` jurisdictions serve ``model``?"""
        entry = self._models.get(model)
        return entry is not None and not entry.jurisdictions.isdisjoint(allowed)

    def confined(self, model: str, allowed: frozenset[str] | None) -> bool:
        """Does residency hide some backend of ``model`` from this request?"""
        entry = self._models.get(model)
        return entry is not None and allowed is not None and not entry.jurisdictions <= allowed

    def has_untried(self, model: str, tried: Iterable[str], allowed: frozenset[str] | None = None) -> bool:
        """Is there a healthy backend for ``model`` outside ``tried`` (and inside ``allowed``)?
        Failover asks before retrying."""
        entry = self._models.get(model)
        done = set(tried)
        return entry is not None and any(
            c.state.healthy and c.route.backend not in done for c in entry.within(allowed)
        )

    def routes_for(self, model: str) -> list[ModelRoute]:
        entry = self._models.get(model)
        return [c.route for c in entry.candidates] if entry else []

    def choose(
        self, model: str, exclude: frozenset[str] = frozenset(), allowed: frozenset[str] | None = None
    ) -> Candidate:
        """The backend for the next try; ``allowed`` (jurisdictions) filters the candidates.

        Raises:
            ModelNotFound: nothing serves ``model``.
            ResidencyRefused: nothing in ``allowed`` serves it.
        """
        entry = self._models.get(model)
        if entry is None:
            raise ModelNotFound(param="model")
        candidates = entry.within(allowed)
        if not candidates:
            raise ResidencyRefused(param="model")
        if len(candidates) == 1:
            return candidates[0]
        pool = [c for c in candidates if c.state.healthy and c.route.backend not in exclude]
        if not pool:
            now = self._clock.monotonic()
            # All down: probe the one that has been down longest, if it has rested long enough.
            pool = (
                sorted(
                    (c for c in candidates if c.route.backend not in exclude),
                    key=lambda c: c.state.down_since or 0.0,
                )[:1]
                or candidates[:1]
            )
            state = pool[0].state
            if state.down_since is not None and now - state.down_since < _RETRY_DOWN_AFTER_S:
                return pool[0]
        start = next(entry.turn) % len(pool)
        best = pool[start]
        for offset in range(1, len(pool)):
            candidate = pool[(start + offset) % len(pool)]
            if candidate.state.in_flight < best.state.in_flight:
                best = candidate
        return best

    def mark_failed(self, state: BackendState) -> None:
        state.failures += 1
        if state.down_since is None:
            state.down_since = self._clock.monotonic()

    @staticmethod
    def mark_ok(state: BackendState) -> None:
        state.down_since = None
