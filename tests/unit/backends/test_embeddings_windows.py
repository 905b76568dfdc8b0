"""Long inputs: windows on word starts with overlap, token-weighted pooling, or the clear refusal."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from onshore.backends.embeddings.windows import frame, split_points
from onshore.errors import InvalidRequest


def every(_: int) -> bool:
    return True


def test_short_input_is_one_window() -> None:
    assert split_points(10, 10, 3, every) == [(0, 10)]


def test_windows_cover_everything_with_the_overlap() -> None:
    spans = split_points(25, 10, 3, every)
    assert spans == [(0, 10), (7, 17), (14, 24), (21, 25)]
    assert all(hi - lo <= 10 for lo, hi in spans)


def test_windows_never_start_or_end_inside_a_word() -> None:
    # Pieces 8, 9 and 15, 16 continue a word ("##..."): no border may fall on them.
    continuation = {8, 9, 15, 16}

    def starts(i: int) -> bool:
        return i not in continuation

    spans = split_points(30, 10, 3, starts)
    for lo, hi in spans:
        assert lo not in continuation
        assert hi == 30 or hi not in continuation
    covered = sorted({i for lo, hi in spans for i in range(lo, hi)})
    assert covered == list(range(30))


def test_a_word_longer_than_the_overlap_still_advances() -> None:
    spans = split_points(40, 8, 4, lambda i: i % 20 == 0)  # two "words" of 20 pieces each
    assert spans[-1][1] == 40
    assert all(b[0] > a[0] for a, b in itertools.pairwise(spans))


def test_frame_refuses_long_inputs_unless_splitting() -> None:
    with pytest.raises(InvalidRequest) as caught:
        frame([[5] * 3, [5] * 11], cls=1, sep=2, window=10, split=False, overlap=2, is_word_start=every)
    assert caught.value.code == "context_length_exceeded"
    assert "input[1]" in caught.value.message
    assert "long_input: split" in caught.value.message
    framed = frame([[5] * 3, [5] * 11], cls=1, sep=2, window=10, split=True, overlap=2, is_word_start=every)
    assert framed.spans == [(0, 1), (1, 3)]
    assert framed.rows[0] == [1, 5, 5, 5, 2]
    assert all(row[0] == 1 and row[-1] == 2 for row in framed.rows)
    assert framed.tokens == 14  # the caller's pieces, not counting overlap or specials


def test_empty_input_is_refused() -> None:
    with pytest.raises(InvalidRequest):
        frame([[]], cls=1, sep=2, window=10, split=True, overlap=2, is_word_start=every)


def test_pool_is_the_token_weighted_mean_normalised() -> None:
    framed = frame([[5] * 2, [7] * 14], cls=1, sep=2, window=10, split=True, overlap=0, is_word_start=every)
    assert framed.spans == [(0, 1), (1, 3)]  # windows of 10 and 4 pieces
    vectors = np.array([[0.6, 0.8], [1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    pooled = framed.pool(vectors)
    assert np.allclose(pooled[0], [0.6, 0.8])
    expected = np.array([10.0, 4.0]) / np.linalg.norm([10.0, 4.0])
    assert np.allclose(pooled[1], expected, atol=1e-6)
    assert abs(float(np.linalg.norm(pooled[1])) - 1.0) < 1e-6
