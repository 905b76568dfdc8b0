"""The typed state of one request as it moves through the pipeline."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from onshore.domain.catalog import Endpoint
from onshore.domain.tenancy import Principal


@dataclass(slots=True)
class RequestContext:
    request_id: str
    endpoint: Endpoint
    started: float = field(default_factory=time.perf_counter)
    principal: Principal | None = None
    model: str | None = None  # the public name the partner asked for
    backend: str | None = None
    stream: bool = False
    status: int = 0
    error_code: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    first_byte_at: float | None = None
    metered: bool = False

    def elapsed_ms(self, at: float | None = None) -> float:
        return ((at if at is not None else time.perf_counter()) - self.started) * 1000.0

    def ttft_ms(self) -> float | None:
        return None if self.first_byte_at is None else self.elapsed_ms(self.first_byte_at)

    def set_usage(self, prompt: int, completion: int, total: int | None = None) -> None:
        self.prompt_tokens = prompt
        self.completion_tokens = completion
        self.total_tokens = total if total is not None else prompt + completion
