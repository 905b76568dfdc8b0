"""The ``llama_cpp`` backend kind: chat and legacy completions from a GGUF file, in process.

Implements ``onshore.ports.Backend``. ``start`` checks the file and loads it (a missing file or one
that is not GGUF raises ConfigError naming it); with ``lazy: true`` loading waits for the first call,
and a model that cannot load answers 503 BackendUnavailable instead. Prompt rendering and tokenising
run in a thread; generation runs on the engine's worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from onshore.backends.llamacpp.engine import Engine, Job
from onshore.backends.llamacpp.model import LoadedModel, resolve_path
from onshore.backends.llamacpp.params import chat_messages, completion_prompt, read_sampling
from onshore.backends.llamacpp.prompt import PromptBuilder
from onshore.backends.llamacpp.reply import GenerationReply
from onshore.backends.llamacpp.wire import Renderer
from onshore.backends.loading import ModelSlot
from onshore.config.settings import LlamaCppBackendSettings
from onshore.domain.catalog import Endpoint
from onshore.errors import InvalidRequest
from onshore.ports import BackendCall, BackendReply

_log = logging.getLogger(__name__)


class LlamaCppBackend:
    """Serves chat and legacy completions from one GGUF model with ``parallel`` sequences."""

    kind = "llama_cpp"

    def __init__(self, settings: LlamaCppBackendSettings, data_dir: Path) -> None:
        # data_dir is part of the embedded-backend constructor contract; the GGUF is read in place.
        self.name = settings.name
        self._settings = settings
        self._slot: ModelSlot[tuple[PromptBuilder, Engine, LoadedModel]] = ModelSlot(
            settings.name, self.kind, settings.lazy, self._load
        )

    async def start(self) -> None:
        await self._slot.start()

    async def _load(self) -> tuple[PromptBuilder, Engine, LoadedModel]:
        settings = self._settings
        path = resolve_path(settings)
        model = await asyncio.to_thread(LoadedModel, path, settings)
        engine = Engine(model, settings.max_queue, settings.name)
        engine.start()
        _log.info("llama_cpp backend %s loaded %s", settings.name, path.name)
        return PromptBuilder(model), engine, model

    async def aclose(self) -> None:
        loaded = self._slot.take()
        if loaded is not None:
            _, engine, model = loaded
            await asyncio.to_thread(engine.close)
            model.close()

    async def check_health(self) -> bool:
        loaded = self._slot.loaded
        return loaded is not None and loaded[1].alive

    async def send(self, call: BackendCall) -> BackendReply:
        if call.endpoint is Endpoint.EMBEDDINGS:
            raise InvalidRequest("This model does not serve embeddings.", param="model")
        payload = call.payload
        sampling = read_sampling(payload)
        prompts, engine, model = await self._slot.get()
        if call.endpoint is Endpoint.CHAT:
            messages = chat_messages(payload)
            prompt = await asyncio.to_thread(prompts.chat, messages)
        else:
            raw = completion_prompt(payload)
            prompt = await asyncio.to_thread(prompts.completion, raw)
        room = model.n_ctx_seq - len(prompt)
        if sampling.max_tokens is not None and sampling.max_tokens > room:
            raise InvalidRequest(
                f"This model's maximum context length is {model.n_ctx_seq} tokens; the prompt has "
                f"{len(prompt)} and max_tokens asks for {sampling.max_tokens} more.",
                param="max_tokens",
                code="context_length_exceeded",
            )
        job = Job(
            prompt=prompt,
            sampling=sampling,
            max_tokens=sampling.max_tokens or room,
            loop=asyncio.get_running_loop(),
        )
        engine.submit(job)
        model_name = payload.get("model")
        renderer = Renderer(
            call.endpoint,
            call.request_id,
            model_name if isinstance(model_name, str) else "",
            include_usage=call.stream and sampling.include_usage,
        )
        return GenerationReply(job, renderer)
