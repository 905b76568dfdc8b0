"""Pooling of an operator model's token states (``model_dir`` graphs that do not pool themselves)."""

from __future__ import annotations

import numpy as np

from onshore.backends.embeddings.local import pool


def test_mean_pooling_ignores_padding_and_normalises() -> None:
    states = np.array([[[3.0, 0.0], [0.0, 4.0], [100.0, 100.0]]], dtype=np.float32)
    mask = np.array([[1, 1, 0]])
    (vector,) = pool(states, mask, "mean")
    assert np.allclose(vector, np.array([3.0, 4.0]) / 5.0)


def test_cls_pooling_takes_the_first_token() -> None:
    states = np.array([[[0.0, 2.0], [5.0, 5.0]]], dtype=np.float32)
    (vector,) = pool(states, np.array([[1, 1]]), "cls")
    assert np.allclose(vector, [0.0, 1.0])


def test_pooled_output_is_only_normalised() -> None:
    (vector,) = pool(np.array([[6.0, 8.0]], dtype=np.float32), np.array([[1]]), "mean")
    assert np.allclose(vector, [0.6, 0.8])
