"""An operator's own sentence-embedding model directory (``model_dir``), checked before it is loaded.

The directory holds ``tokenizer.json`` (Hugging Face tokenizers) and either ``model.onnx`` (an exported
encoder, e.g. multilingual-e5 or KoSimCSE: inputs ``input_ids``/``attention_mask``, optionally
``token_type_ids``; first output the token states ``[batch, sequence, hidden]``, pooled here, or an
already pooled ``[batch, hidden]``) or a BERT checkpoint as ``config.json`` plus ``model.safetensors``,
built into an ONNX graph like the built-in MiniLM. Every missing piece is a ConfigError at start that
names the file, never a failure on the first request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from onshore.errors import ConfigError

Pooling = Literal["mean", "cls"]
DEFAULT_WINDOW = 512  # tokens per row, specials included, when neither setting nor model says
# (first, last) special tokens of the usual tokenizer families: BERT's WordPiece, XLM-R/e5's SentencePiece.
SPECIALS = (("[CLS]", "[SEP]"), ("<s>", "</s>"))


@dataclass(frozen=True, slots=True)
class ModelFiles:
    tokenizer: Path
    onnx: Path | None  # an exported graph; None: build one from the BERT safetensors
    window: int  # tokens per row, specials included


def check_dir(directory: Path, max_tokens: int | None) -> ModelFiles:
    """The files of ``directory``; ConfigError naming what is missing."""
    if not directory.is_dir():
        raise ConfigError(f"The embeddings model_dir {directory} is not a directory.")
    tokenizer = directory / "tokenizer.json"
    if not tokenizer.is_file():
        raise ConfigError(f"The embeddings model_dir {directory} has no tokenizer.json.")
    onnx = directory / "model.onnx"
    if not onnx.is_file():
        onnx_missing = [n for n in ("config.json", "model.safetensors") if not (directory / n).is_file()]
        if onnx_missing:
            raise ConfigError(
                f"The embeddings model_dir {directory} has neither model.onnx nor a BERT checkpoint "
                "(config.json and model.safetensors)."
            )
    return ModelFiles(
        tokenizer=tokenizer,
        onnx=onnx if onnx.is_file() else None,
        window=max_tokens or _declared_window(directory) or DEFAULT_WINDOW,
    )


def _declared_window(directory: Path) -> int | None:
    # sentence-transformers records the window it was trained with; the tokenizer's own
    # truncation (128 in MiniLM's tokenizer.json) is often shorter than the model's real window.
    config = directory / "sentence_bert_config.json"
    try:
        value = json.loads(config.read_text(encoding="utf-8")).get("max_seq_length")
    except (OSError, ValueError, AttributeError):
        return None
    return int(value) if isinstance(value, int) and value > 2 else None


def find_specials(tokenizer: Any) -> tuple[int, int]:
    for first, last in SPECIALS:
        first_id, last_id = tokenizer.token_to_id(first), tokenizer.token_to_id(last)
        if first_id is not None and last_id is not None:
            return int(first_id), int(last_id)
    raise ConfigError("The embeddings tokenizer has neither [CLS]/[SEP] nor <s>/</s> tokens.")


def continuation_prefix(tokenizer: Any) -> tuple[str, bool]:
    """How a piece shows it continues a word: WordPiece prefixes ``##``; SentencePiece marks starts."""
    vocab: dict[str, int] = tokenizer.get_vocab()
    if any(token.startswith("##") for token in vocab):
        return "##", True
    return "\u2581", False


def pool(states: np.ndarray, mask: np.ndarray, pooling: Pooling) -> np.ndarray:
    """Unit vectors from a model's output: token states pooled (mean over the mask, or the first)."""
    if states.ndim == 3:
        if pooling == "cls":
            states = states[:, 0, :]
        else:
            weights = mask[:, :, None].astype(np.float32)
            states = (states * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    norms = np.linalg.norm(states, axis=1, keepdims=True)
    return np.asarray(states / np.maximum(norms, 1e-12), dtype=np.float32)
