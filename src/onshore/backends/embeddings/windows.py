"""Inputs longer than the model's window: refuse them, or split them into windows and pool the windows.

The pooled vector is the token-weighted mean of the windows' unit vectors, L2-normalised again: the
usual "chunk, embed, average" technique (as in OpenAI's cookbook for long inputs), done in the engine
so a client's default chunk size (LlamaIndex: 1,024 tokens) works against a 254-word-piece model.

Windows overlap by ``overlap`` word pieces so a sentence cut at a border is whole in one of them,
and a window starts only on a word start (a piece without the ``##`` continuation prefix), so no
window begins in the middle of a word. How good the pooled vector is for retrieval is measured in
``benchmarks/embeddings_long.py`` and reported in docs/embeddings.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from onshore.errors import InvalidRequest


@dataclass(frozen=True, slots=True)
class Framed:
    """The rows the model runs (each framed by the special tokens) and which rows make each input."""

    rows: list[list[int]]
    spans: list[tuple[int, int]]  # input i is rows[start:end]
    tokens: int  # the caller's word pieces (without specials or overlap), for ``usage``

    def pool(self, vectors: np.ndarray) -> np.ndarray:
        """One unit vector per input: a lone row as it is, split inputs as their weighted mean."""
        if len(self.spans) == len(self.rows):
            return vectors
        pooled = np.empty((len(self.spans), vectors.shape[1]), dtype=np.float32)
        for index, (start, end) in enumerate(self.spans):
            if end - start == 1:
                pooled[index] = vectors[start]
                continue
            weights = np.array([len(row) - 2 for row in self.rows[start:end]], dtype=np.float32)
            mean = (vectors[start:end] * weights[:, None]).sum(axis=0)
            pooled[index] = mean / max(float(np.linalg.norm(mean)), 1e-12)
        return pooled


def frame(
    inputs: Sequence[Sequence[int]],
    *,
    cls: int,
    sep: int,
    window: int,
    split: bool,
    overlap: int,
    is_word_start: Callable[[int], bool],
) -> Framed:
    """Frame each input (pieces without specials) with ``cls``/``sep``; split or refuse long ones.

    ``window`` counts the caller's pieces a row may hold (the model's window less the two specials).
    """
    rows: list[list[int]] = []
    spans: list[tuple[int, int]] = []
    tokens = 0
    for index, pieces in enumerate(inputs):
        if not pieces:
            raise InvalidRequest(f"input[{index}] has no tokens after normalisation.", param="input")
        tokens += len(pieces)
        start = len(rows)
        if len(pieces) <= window:
            rows.append([cls, *pieces, sep])
        elif split:
            starts = [is_word_start(piece) for piece in pieces]
            for lo, hi in split_points(len(pieces), window, overlap, starts.__getitem__):
                rows.append([cls, *pieces[lo:hi], sep])
        else:
            raise InvalidRequest(
                f"input[{index}] has {len(pieces)} tokens; this model takes at most {window} per "
                "input. Split the text into shorter passages (or ask the operator to enable "
                "long_input: split for this model).",
                param="input",
                code="context_length_exceeded",
            )
        spans.append((start, len(rows)))
    return Framed(rows=rows, spans=spans, tokens=tokens)


def split_points(
    length: int, window: int, overlap: int, is_word_start: Callable[[int], bool]
) -> list[tuple[int, int]]:
    """``(start, end)`` windows of at most ``window`` pieces covering ``range(length)``.

    Each window after the first starts ``overlap`` pieces before the previous one's end, moved back
    to the nearest word start (but never to or before the previous start, so it always advances);
    each end is moved back to a word start when one lies in the window's last ``overlap`` pieces, so
    a word is not cut at the border either.
    """
    overlap = min(overlap, window // 2)
    spans: list[tuple[int, int]] = []
    start = 0
    while True:
        end = min(start + window, length)
        if end < length:
            for cut in range(end, max(end - overlap, start + 1) - 1, -1):
                if is_word_start(cut):
                    end = cut
                    break
        spans.append((start, end))
        if end >= length:
            return spans
        nxt = max(end - overlap, start + 1)
        while nxt > start + 1 and not is_word_start(nxt):
            nxt -= 1
        start = nxt
