"""Sampling fields and prompts as the llama_cpp backend reads them."""

from __future__ import annotations

from typing import Any

import pytest

from onshore.backends.llamacpp.params import RANDOM_SEED, chat_messages, completion_prompt, read_sampling
from onshore.errors import InvalidRequest


def test_defaults_are_openais() -> None:
    sampling = read_sampling({})
    assert sampling.max_tokens is None
    assert sampling.temperature == 1.0
    assert sampling.top_p == 1.0
    assert sampling.seed == RANDOM_SEED
    assert sampling.stops == []
    assert not sampling.include_usage


def test_fields_are_read() -> None:
    sampling = read_sampling(
        {
            "max_tokens": 5,
            "temperature": 0,
            "top_p": 0.5,
            "seed": 7,
            "stop": "x",
            "stream_options": {"include_usage": True},
        }
    )
    assert (sampling.max_tokens, sampling.temperature, sampling.top_p, sampling.seed) == (5, 0.0, 0.5, 7)
    assert sampling.stops == ["x"]
    assert sampling.include_usage
    assert read_sampling({"max_completion_tokens": 9, "max_tokens": 3}).max_tokens == 9


def test_seeds_fit_llama_cpps_32_bits_and_never_mean_random() -> None:
    assert read_sampling({"seed": -1}).seed != RANDOM_SEED
    assert read_sampling({"seed": 2**40 + 5}).seed == 5


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": "5"}, "max_tokens"),
        ({"temperature": -0.1}, "temperature"),
        ({"temperature": True}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"seed": 1.5}, "seed"),
        ({"stop": [1]}, "stop"),
        ({"stop": ["a"] * 5}, "stop"),
        ({"n": 3}, "n"),
        ({"logprobs": True}, "logprobs"),
        ({"tools": [{"type": "function"}]}, "tools"),
        ({"logit_bias": {"1": 5}}, "logit_bias"),
        ({"presence_penalty": 0.5}, "presence_penalty"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"stream_options": "yes"}, "stream_options"),
    ],
)
def test_unusable_fields_are_400s(payload: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        read_sampling(payload)
    assert caught.value.param == param


def test_neutral_values_of_unsupported_fields_pass() -> None:
    read_sampling({"n": 1, "logprobs": False, "presence_penalty": 0, "response_format": {"type": "text"}})


def test_chat_content_parts_are_joined() -> None:
    messages = chat_messages(
        {
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
            ]
        }
    )
    assert messages == [{"role": "user", "content": "ab"}]
    assert chat_messages({"messages": [{"role": "assistant", "content": None}]})[0]["content"] == ""


@pytest.mark.parametrize(
    "messages",
    [None, [], [{"content": "no role"}], [{"role": "user", "content": [{"type": "image_url"}]}], ["x"]],
)
def test_bad_messages_are_400s(messages: Any) -> None:
    with pytest.raises(InvalidRequest) as caught:
        chat_messages({"messages": messages})
    assert caught.value.param == "messages"


def test_completion_prompts() -> None:
    assert completion_prompt({"prompt": "hi"}) == "hi"
    assert completion_prompt({"prompt": ["hi"]}) == "hi"
    assert completion_prompt({"prompt": [1, 2]}) == [1, 2]
    assert completion_prompt({"prompt": [[1, 2]]}) == [1, 2]
    for bad in (None, [], ["a", "b"], [1, "a"], 5):
        with pytest.raises(InvalidRequest):
            completion_prompt({"prompt": bad})
