"""The embeddings request reader: OpenAI's input shapes and the documented refusals."""

from __future__ import annotations

from typing import Any

import pytest

from onshore.backends.embeddings.inputs import MAX_INPUTS, parse_request
from onshore.errors import InvalidRequest


def parse(token_ids: bool = True, **payload: Any) -> Any:
    return parse_request({"model": "m", **payload}, dimensions=384, vocab_size=100, token_ids=token_ids)


def test_a_string_is_one_input() -> None:
    request = parse(input="hello")
    assert request.texts == ["hello"]
    assert request.token_ids is None
    assert request.encoding == "float"
    assert request.model == "m"
    assert len(request) == 1


def test_a_list_of_strings_keeps_its_order() -> None:
    assert parse(input=["a", "b", "c"]).texts == ["a", "b", "c"]


def test_token_arrays_are_accepted_flat_and_nested() -> None:
    assert parse(input=[1, 2, 3]).token_ids == [[1, 2, 3]]
    assert parse(input=[[1, 2], [3]]).token_ids == [[1, 2], [3]]


@pytest.mark.parametrize("value", [[1, 2, 3], [[1, 2], [3]]])
def test_token_arrays_are_refused_by_default_naming_the_fix(value: Any) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse(token_ids=False, input=value)
    assert caught.value.status == 400
    assert caught.value.param == "input"
    assert caught.value.code == "token_ids_not_supported"
    assert "check_embedding_ctx_length=False" in caught.value.message


def test_text_is_accepted_when_token_ids_are_refused() -> None:
    assert parse(token_ids=False, input=["a", "b"]).texts == ["a", "b"]


@pytest.mark.parametrize(
    "value",
    ["", [], [""], ["ok", ""], [[]], [[1], []], None, 3, [1, "a"], [True], [[1, 100]], [[-1]]],
)
def test_unusable_inputs_are_400s_on_input(value: Any) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse(input=value)
    assert caught.value.param == "input"
    assert caught.value.status == 400


def test_too_many_inputs_is_a_400() -> None:
    with pytest.raises(InvalidRequest):
        parse(input=["x"] * (MAX_INPUTS + 1))


def test_base64_and_float_encodings() -> None:
    assert parse(input="x", encoding_format="base64").encoding == "base64"
    assert parse(input="x", encoding_format=None).encoding == "float"
    with pytest.raises(InvalidRequest) as caught:
        parse(input="x", encoding_format="int8")
    assert caught.value.param == "encoding_format"


def test_dimensions_must_be_the_models_own() -> None:
    assert parse(input="x", dimensions=384).texts == ["x"]
    for wanted in (128, 0, 385, "384", True):
        with pytest.raises(InvalidRequest) as caught:
            parse(input="x", dimensions=wanted)
        assert caught.value.param == "dimensions"
