"""Build backends and the model routes from settings; embedded ones are imported only when used."""

from __future__ import annotations

import importlib
from pathlib import Path

from onshore.config.settings import BackendSettings, RemoteBackendSettings
from onshore.domain.catalog import ModelRoute
from onshore.ports import Backend

_EMBEDDED = {
    "embeddings": "onshore.backends.embeddings:EmbeddingsBackend",
    "llama_cpp": "onshore.backends.llamacpp:LlamaCppBackend",
}


def build_backend(settings: BackendSettings, data_dir: Path) -> Backend:
    if isinstance(settings, RemoteBackendSettings):
        from onshore.backends.upstream import RemoteBackend  # noqa: PLC0415 - aiohttp only when used

        return RemoteBackend(settings)
    module_name, attribute = _EMBEDDED[settings.kind].split(":")
    factory = getattr(importlib.import_module(module_name), attribute)
    backend: Backend = factory(settings, data_dir)
    return backend


def build_routes(backends: list[BackendSettings], home: str = "KR") -> list[ModelRoute]:
    """Every (public model, backend) pair; ``home`` is the gateway's own jurisdiction, where the
    embedded models and remote backends that declare none process data."""
    routes: list[ModelRoute] = []
    for b in backends:
        jurisdiction = b.jurisdiction or home  # embedded ones are checked to be here (settings)
        operator = b.operator
        routes.extend(
            ModelRoute(
                public_name=m.name,
                upstream_name=m.upstream_name or m.name,
                backend=b.name,
                jurisdiction=jurisdiction,
                operator=operator,
                rerank=m.rerank,
                native_responses=isinstance(b, RemoteBackendSettings) and b.responses == "native",
            )
            for m in b.models
        )
    return routes
