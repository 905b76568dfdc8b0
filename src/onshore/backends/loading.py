"""Load an embedded model once: at start, or on first use when the backend is ``lazy``.

Both embedded backends (embeddings, llama.cpp) need the same rules: one load at a time, a model
that cannot load fails the start with its ConfigError, and a lazy one that cannot load answers
OpenAI's 503 from then on while the operator reads why in the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from onshore.errors import BackendUnavailable, ConfigError

_log = logging.getLogger(__name__)

Loaded = TypeVar("Loaded")


class ModelSlot(Generic[Loaded]):
    def __init__(self, name: str, kind: str, lazy: bool, load: Callable[[], Awaitable[Loaded]]):
        self._name, self._kind, self._lazy, self._load = name, kind, lazy, load
        self._lock = asyncio.Lock()
        self._loaded: Loaded | None = None
        self._failed = False

    @property
    def loaded(self) -> Loaded | None:
        return self._loaded

    async def start(self) -> None:
        """Load now unless lazy; a model that cannot load raises its ConfigError."""
        if not self._lazy:
            await self._load_once()

    async def get(self) -> Loaded:
        """The loaded model, loading it first if lazy; BackendUnavailable when it cannot load."""
        if self._loaded is not None:
            return self._loaded
        if self._failed:
            raise BackendUnavailable
        try:
            return await self._load_once()
        except ConfigError as exc:
            self._failed = True
            _log.error("%s backend %s cannot load: %s", self._kind, self._name, exc.message)
            raise BackendUnavailable from None

    def take(self) -> Loaded | None:
        """Forget the model (for closing it); later calls load it again."""
        loaded, self._loaded = self._loaded, None
        return loaded

    async def _load_once(self) -> Loaded:
        async with self._lock:
            if self._loaded is None:
                self._loaded = await self._load()
            return self._loaded
