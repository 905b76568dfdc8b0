"""The typed state of one request as it moves through the pipeline's steps.

The outcome (status, error code, usage, timings) is written through ``finish`` and ``set_usage``
only, and read in one place: the metering step, which makes the ledger row and the telemetry from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from onshore.domain.catalog import Endpoint, ModelRoute
from onshore.domain.policy import PiiPolicy
from onshore.domain.tenancy import Principal
from onshore.ports import BackendReply, ClientChannel, RequestTrace

if TYPE_CHECKING:
    from onshore.gateway.request_body import ParsedBody
    from onshore.gateway.responses_reply import ResponsesExchange
    from onshore.gateway.steps.metering import Pricing


@dataclass(slots=True)
class RequestContext:
    request_id: str  # made by the server: the ledger's key
    endpoint: Endpoint
    client: ClientChannel
    started: float  # Clock.monotonic() when the request arrived
    created_at: datetime  # Clock.now() when the request arrived
    client_request_id: str | None = None  # the client's own x-request-id, kept for correlation only
    principal: Principal | None = None
    body: ParsedBody | None = None
    model: str | None = None  # the public name the partner asked for
    stream: bool = False
    route: ModelRoute | None = None
    backend: str | None = None
    reply: BackendReply | None = None  # the chosen backend's answer, open while the response is sent
    # --- sovereignty (set by the sovereignty step) ---
    jurisdictions: frozenset[str] | None = None  # where this request may be served; None: anywhere
    pii: PiiPolicy | None = None  # the personal-data policy, when one applies
    pii_counts: dict[str, int] | None = None  # personal data found in the request, per type
    placeholders: dict[str, str] | None = None  # "[KR_RRN_1]" -> original: this request's memory only
    # --- the outcome ---
    status: int = 0
    error_code: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens the engine served from its prefix cache
    cost_micro_krw: int | None = None  # set by ``price`` once the usage is final
    priced: bool = False
    first_byte_at: float | None = None
    trace: RequestTrace | None = None  # the request's span when tracing is on (sent to the backend)
    batch_id: str | None = None  # set when the gateway runs it for a batch (the ledger row says so)
    # --- the Responses API over chat completions (set by the responses adapter) ---
    facade: Endpoint | None = None  # the API the partner called, when ``endpoint`` is what serves it
    responses: ResponsesExchange | None = None

    @property
    def api(self) -> Endpoint:
        """The endpoint the partner called: what the ledger and the telemetry record."""
        return self.facade or self.endpoint

    def finish(self, status: int, error_code: str | None = None) -> None:
        self.status = status
        self.error_code = error_code

    def set_usage(self, prompt: int, completion: int, total: int | None = None, cached: int = 0) -> None:
        self.prompt_tokens = prompt
        self.completion_tokens = completion
        self.total_tokens = total if total is not None else prompt + completion
        self.cached_tokens = cached

    def price(self, pricing: Pricing) -> int | None:
        """What the request cost, at the price in force when it arrived (None: no price, or no
        usage). Computed once, when first asked after the usage is final: admission settles a
        budget with it and metering records it on the ledger row."""
        if not self.priced:
            self.priced = True
            if self.total_tokens:
                self.cost_micro_krw = pricing.cost_micro_krw(
                    self.model,
                    self.created_at,
                    self.prompt_tokens,
                    self.completion_tokens,
                    self.cached_tokens,
                )
        return self.cost_micro_krw
