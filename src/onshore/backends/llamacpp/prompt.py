"""Prompts as token ids: chat through the model's own Jinja template, completions as given.

The template is rendered in a sandboxed Jinja environment with the variables Hugging Face templates
expect (``messages``, ``add_generation_prompt``, ``bos_token``, ``eos_token``, ``raise_exception``).
A model without a template cannot serve chat: guessing a format would produce a prompt the model was
never trained on, so chat on such a model is a 400 and legacy completions still work.
"""

from __future__ import annotations

import datetime
from typing import Any, NoReturn

from jinja2.sandbox import ImmutableSandboxedEnvironment

from onshore.backends.llamacpp.model import LoadedModel
from onshore.errors import InvalidRequest


class PromptBuilder:
    def __init__(self, model: LoadedModel) -> None:
        self._model = model
        self._template: Any = None
        if model.chat_template:
            environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
            environment.globals["raise_exception"] = _raise
            environment.globals["strftime_now"] = _strftime_now
            self._template = environment.from_string(model.chat_template)

    def chat(self, messages: list[dict[str, str]]) -> list[int]:
        if self._template is None:
            raise InvalidRequest(
                "This model has no chat template; use the completions endpoint.", param="messages"
            )
        try:
            text = self._template.render(
                messages=messages,
                add_generation_prompt=True,
                bos_token=self._model.bos_text,
                eos_token=self._model.eos_text,
            )
        except InvalidRequest:
            raise
        except Exception:  # a template error is the request's shape not fitting the template
            raise InvalidRequest(
                "The messages do not fit this model's chat template.", param="messages"
            ) from None
        # Templates that write the BOS text themselves must not get a second one from the tokenizer.
        add_bos = self._model.add_bos and not (self._model.bos_text and text.startswith(self._model.bos_text))
        return self._checked(self._model.tokenize(text, add_special=add_bos, parse_special=True), "messages")

    def completion(self, prompt: str | list[int]) -> list[int]:
        if isinstance(prompt, list):
            if not all(0 <= token < self._model.n_vocab for token in prompt):
                raise InvalidRequest(f"prompt token ids must be below {self._model.n_vocab}.", param="prompt")
            return self._checked(prompt, "prompt")
        tokens = self._model.tokenize(prompt, add_special=self._model.add_bos, parse_special=True)
        return self._checked(tokens, "prompt")

    def _checked(self, tokens: list[int], param: str) -> list[int]:
        if not tokens:
            raise InvalidRequest("The prompt is empty.", param=param)
        if len(tokens) >= self._model.n_ctx_seq:
            raise InvalidRequest(
                f"This model's maximum context length is {self._model.n_ctx_seq} tokens; "
                f"the prompt has {len(tokens)}.",
                param=param,
                code="context_length_exceeded",
            )
        return tokens


def _raise(message: str) -> NoReturn:
    raise InvalidRequest(f"The chat template refused the messages: {message}", param="messages")


def _strftime_now(fmt: str) -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime(fmt)
