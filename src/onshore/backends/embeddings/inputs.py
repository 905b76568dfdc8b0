"""Read and check the embeddings request: OpenAI's ``input`` shapes, ``encoding_format``, ``dimensions``.

Decisions (documented in the README's embeddings section):

- ``input`` may be a string, a list of strings, a list of token ids, or a list of token-id lists.
  Token ids are refused by default: the clients that send them (LangChain's ``OpenAIEmbeddings`` by
  default) send tiktoken cl100k ids, which this model would read as its own WordPiece ids and embed
  into a silently wrong vector. The refusal names the fix. An operator may accept them per backend
  (``token_ids: model``); they are then this model's own WordPiece ids, as on any engine that takes ids.
- An empty string, an empty list or an empty token list is a 400, as with OpenAI.
- An input longer than the model's window (256 word pieces including ``[CLS]`` and ``[SEP]``, so 254
  of the caller's) is a 400 naming the index, never silently truncated: a truncated vector quietly
  represents only the start of a document, which is worse for retrieval than an error.
- ``dimensions`` may only be the model's own (384): MiniLM was not trained for shortened vectors
  (it is not a Matryoshka model), so truncating would return vectors of unknown quality. Any other
  value is a 400 on ``dimensions``, as OpenAI answers for models without that feature.
- ``usage.prompt_tokens`` counts the caller's word pieces, without the two special tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from onshore.errors import InvalidRequest

MAX_INPUTS = 2048  # OpenAI's limit for one request
Encoding = Literal["float", "base64"]


@dataclass(frozen=True, slots=True)
class EmbeddingsRequest:
    """The checked request: either texts or token-id lists (never both)."""

    texts: list[str] | None
    token_ids: list[list[int]] | None
    encoding: Encoding
    model: str

    def __len__(self) -> int:
        return len(self.texts) if self.texts is not None else len(self.token_ids or [])


IDS_REFUSED = (
    "input holds token ids, but this model reads text: ids from another tokenizer (tiktoken's, as "
    "LangChain's OpenAIEmbeddings sends by default) would give wrong vectors. Send the text itself; "
    "in LangChain set OpenAIEmbeddings(check_embedding_ctx_length=False)."
)


def parse_request(
    payload: dict[str, Any], *, dimensions: int, vocab_size: int, token_ids: bool
) -> EmbeddingsRequest:
    """Check the payload's fields; raise InvalidRequest naming the field for anything unusable."""
    encoding = payload.get("encoding_format", "float")
    if encoding is None:
        encoding = "float"
    if encoding not in ("float", "base64"):
        raise InvalidRequest("encoding_format must be 'float' or 'base64'.", param="encoding_format")
    wanted = payload.get("dimensions")
    if wanted is not None and (not _is_int(wanted) or wanted != dimensions):
        raise InvalidRequest(
            f"This model only supports dimensions={dimensions}; it was not trained for shorter vectors.",
            param="dimensions",
        )
    model = payload.get("model")
    model_name = model if isinstance(model, str) else ""
    texts, ids = _read_input(payload.get("input"), vocab_size)
    if ids is not None and not token_ids:
        raise InvalidRequest(IDS_REFUSED, param="input", code="token_ids_not_supported")
    return EmbeddingsRequest(texts=texts, token_ids=ids, encoding=encoding, model=model_name)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _read_input(value: object, vocab_size: int) -> tuple[list[str] | None, list[list[int]] | None]:
    if isinstance(value, str):
        _check_text(value, None)
        return [value], None
    if not isinstance(value, list) or not value:
        raise InvalidRequest(
            "input must be a non-empty string, array of strings or array of token arrays.", param="input"
        )
    if len(value) > MAX_INPUTS:
        raise InvalidRequest(f"input must have at most {MAX_INPUTS} items.", param="input")
    if all(isinstance(item, str) for item in value):
        for index, item in enumerate(value):
            _check_text(item, index)
        return list(value), None
    if all(_is_int(item) for item in value):
        return None, [_check_ids(value, None, vocab_size)]
    if all(isinstance(item, list) for item in value):
        return None, [_check_ids(item, index, vocab_size) for index, item in enumerate(value)]
    raise InvalidRequest(
        "input must be a string, an array of strings, an array of token ids or an array of token arrays.",
        param="input",
    )


def _check_text(text: str, index: int | None) -> None:
    if not text:
        where = "input" if index is None else f"input[{index}]"
        raise InvalidRequest(f"{where} must not be an empty string.", param="input")


def _check_ids(ids: list[Any], index: int | None, vocab_size: int) -> list[int]:
    where = "input" if index is None else f"input[{index}]"
    if not ids:
        raise InvalidRequest(f"{where} must not be an empty token array.", param="input")
    if not all(_is_int(token) and 0 <= token < vocab_size for token in ids):
        raise InvalidRequest(f"{where} must hold token ids between 0 and {vocab_size - 1}.", param="input")
    return ids
