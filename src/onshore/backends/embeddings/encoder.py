"""What the micro-batcher needs from a model: tokenise into framed rows, run rows into unit vectors.

Two engines implement it: ``runtime.MiniLM`` (a BERT-style ONNX graph: the built-in MiniLM or an
operator's ``model_dir``) and ``use.UseMultilingual`` (Universal Sentence Encoder multilingual v3,
pure numpy). Everything here runs on the backend's worker thread, never on the event loop.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from onshore.backends.embeddings.windows import Framed


class Encoder(Protocol):
    @property
    def dimensions(self) -> int:
        """The length of every vector this model returns."""

    @property
    def vocab_size(self) -> int:
        """Token ids a caller may send (with ``token_ids: model``) lie in ``range(vocab_size)``."""

    @property
    def description(self) -> str:
        """What was loaded, for the start-up log line (no paths a client could see)."""

    def tokenize(self, texts: list[str]) -> Framed:
        """Rows framed with the model's special tokens; an input over the window split or refused."""

    def wrap_ids(self, token_ids: list[list[int]]) -> Framed:
        """Caller-given ids of this model's vocabulary, framed like tokenised text."""

    def run(self, rows: list[list[int]]) -> np.ndarray:
        """Unit-length float32 vectors, one per row."""
