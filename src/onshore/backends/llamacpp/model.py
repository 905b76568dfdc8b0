"""Load a GGUF file with llama.cpp's C API and give the rest of the package what it needs of it.

The low-level API is used (not ``llama_cpp.Llama``) because the high-level class decodes one sequence
at a time; the engine needs one context holding ``parallel`` sequences that share each decode step.
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
from pathlib import Path
from typing import Any

import llama_cpp

from onshore.config.settings import LlamaCppBackendSettings
from onshore.errors import ConfigError

_log = logging.getLogger("onshore.backends.llamacpp.native")
GGUF_MAGIC = b"GGUF"
_LEVELS = {1: logging.DEBUG, 2: logging.DEBUG, 3: logging.WARNING, 4: logging.ERROR}


def _log_line(level: int, text: bytes, _user_data: Any) -> None:
    _log.log(_LEVELS.get(level, logging.DEBUG), "%s", text.decode("utf-8", "replace").rstrip())


# llama.cpp logs hundreds of lines per load straight to stderr; route them through logging. The
# callback is process-wide in llama.cpp itself, and ctypes needs this object kept alive for as long.
_FORWARD_LOG: Any = llama_cpp.llama_log_callback(_log_line)


def resolve_path(settings: LlamaCppBackendSettings) -> Path:
    """The GGUF file named by ``path``, or the single GGUF shipped by the Python package ``package``."""
    if settings.path is not None:
        return settings.path.expanduser()
    spec = importlib.util.find_spec(settings.package or "")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"backend {settings.name!r}: the package {settings.package!r} is not installed.")
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    if len(found) != 1:
        raise ConfigError(
            f"backend {settings.name!r}: the package {settings.package!r} ships "
            f"{len(found)} GGUF files, not 1."
        )
    return found[0]


def check_gguf(path: Path, backend: str) -> None:
    """Raise ConfigError naming the file when it is missing, unreadable or not a GGUF file."""
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except FileNotFoundError:
        raise ConfigError(f"backend {backend!r}: the GGUF file {path} does not exist.") from None
    except OSError as exc:
        raise ConfigError(
            f"backend {backend!r}: cannot read the GGUF file {path} ({exc.strerror})."
        ) from None
    if magic != GGUF_MAGIC:
        raise ConfigError(f"backend {backend!r}: {path} is not a GGUF file (it does not start with 'GGUF').")


class LoadedModel:
    """The model, its vocabulary and one context for ``parallel`` sequences; freed by ``close``."""

    def __init__(self, path: Path, settings: LlamaCppBackendSettings) -> None:
        check_gguf(path, settings.name)
        llama_cpp.llama_log_set(_FORWARD_LOG, ctypes.c_void_p(0))
        llama_cpp.llama_backend_init()
        model_params = llama_cpp.llama_model_default_params()
        model_params.n_gpu_layers = 0
        self.model = llama_cpp.llama_model_load_from_file(str(path).encode(), model_params)
        if not self.model:
            raise ConfigError(f"backend {settings.name!r}: llama.cpp could not load the GGUF file {path}.")
        self.vocab = llama_cpp.llama_model_get_vocab(self.model)
        self.n_vocab = int(llama_cpp.llama_vocab_n_tokens(self.vocab))
        self.parallel = settings.parallel
        self.n_batch = max(512, settings.parallel)
        params = llama_cpp.llama_context_default_params()
        # Every sequence gets the configured window: the KV cache holds parallel x n_ctx cells.
        params.n_ctx = settings.n_ctx * settings.parallel
        params.n_seq_max = settings.parallel
        params.kv_unified = False
        params.n_batch = self.n_batch
        params.n_ubatch = self.n_batch
        params.n_threads = settings.threads
        params.n_threads_batch = settings.threads
        params.no_perf = True
        self.context = llama_cpp.llama_init_from_model(self.model, params)
        if not self.context:
            llama_cpp.llama_model_free(self.model)
            raise ConfigError(f"backend {settings.name!r}: cannot create a llama.cpp context for {path}.")
        self.memory = llama_cpp.llama_get_memory(self.context)
        self.n_ctx_seq = int(llama_cpp.llama_n_ctx_seq(self.context))
        self.path = path
        template = llama_cpp.llama_model_chat_template(self.model, None)
        self.chat_template = template.decode("utf-8", "replace") if template else None
        self.bos_text = self.piece(llama_cpp.llama_vocab_bos(self.vocab), special=True)
        self.eos_text = self.piece(llama_cpp.llama_vocab_eos(self.vocab), special=True)
        self.add_bos = bool(llama_cpp.llama_vocab_get_add_bos(self.vocab))

    def tokenize(self, text: str, *, add_special: bool, parse_special: bool) -> list[int]:
        data = text.encode("utf-8")
        capacity = len(data) + 8
        tokens = (llama_cpp.llama_token * capacity)()
        count = llama_cpp.llama_tokenize(
            self.vocab, data, len(data), tokens, capacity, add_special, parse_special
        )
        if count < 0:  # the buffer was too small; -count is the size needed
            capacity = -count
            tokens = (llama_cpp.llama_token * capacity)()
            count = llama_cpp.llama_tokenize(
                self.vocab, data, len(data), tokens, capacity, add_special, parse_special
            )
        return list(tokens[:count])

    def piece_bytes(self, token: int, *, special: bool = False) -> bytes:
        buffer = ctypes.create_string_buffer(64)
        size = llama_cpp.llama_token_to_piece(self.vocab, token, buffer, 64, 0, special)
        if size < 0:
            buffer = ctypes.create_string_buffer(-size)
            size = llama_cpp.llama_token_to_piece(self.vocab, token, buffer, -size, 0, special)
        return buffer.raw[:size]

    def piece(self, token: int, *, special: bool = False) -> str:
        if token < 0:
            return ""
        return self.piece_bytes(token, special=special).decode("utf-8", "replace")

    def is_end(self, token: int) -> bool:
        return bool(llama_cpp.llama_vocab_is_eog(self.vocab, token))

    def forget(self, seq_id: int) -> None:
        """Drop a sequence's KV cells so its slot can take a new request."""
        llama_cpp.llama_memory_seq_rm(self.memory, seq_id, -1, -1)

    def close(self) -> None:
        if self.context:
            llama_cpp.llama_free(self.context)
            self.context = None
        if self.model:
            llama_cpp.llama_model_free(self.model)
            self.model = None
