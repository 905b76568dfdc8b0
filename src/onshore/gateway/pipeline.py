"""The order of the steps. Called once by the composition root (and by the step tests, so they test
the very chain that serves partners)."""

from __future__ import annotations

from collections.abc import Sequence

from onshore.gateway.auth import Authenticator
from onshore.gateway.chain import Handler, Step, compose
from onshore.gateway.pii_answer import pii_answer
from onshore.gateway.policy import CheckAccess
from onshore.gateway.responses_reply import responses_transform
from onshore.gateway.routing import Router
from onshore.gateway.steps.authenticate import Authenticate
from onshore.gateway.steps.disconnect import CancelOnDisconnect
from onshore.gateway.steps.dispatch import Dispatch
from onshore.gateway.steps.metering import Metering, Pricing, UsageSink
from onshore.gateway.steps.read_request import ReadRequest
from onshore.gateway.steps.respond import Respond
from onshore.gateway.transforms import public_model_name, usage_transform
from onshore.ports import Clock, Telemetry


def build_pipeline(
    *,
    authenticator: Authenticator,
    router: Router,
    sink: UsageSink,
    telemetry: Telemetry,
    clock: Clock,
    max_body_bytes: int,
    drain_s: float = 2.0,
    pricing: Pricing | None = None,
    admission: Sequence[Step] = (),
    sovereignty: Step | None = None,
    responses: Step | None = None,
) -> Handler:
    """``sovereignty``: residency and the personal-data policy (``Sovereignty``); ``admission``:
    rate limits and budgets (``Admit``), then the fair queue (``Schedule``); ``responses``: the
    Responses API as a chat completion (``ResponsesAdapter``), so every later step runs unchanged."""
    return compose(
        [
            Metering(sink, telemetry, clock, pricing),  # outermost: sees every way a request ends
            Authenticate(authenticator),
            ReadRequest(max_body_bytes),
            *((responses,) if responses is not None else ()),  # translated before any step decides
            CancelOnDisconnect(),  # from here a client that leaves cancels the work (and its wait)
            CheckAccess(router),
            *(
                (sovereignty,) if sovereignty is not None else ()
            ),  # before admission: a refusal costs no quota
            *admission,  # before a backend slot is held: a refused or queued request holds none
            Dispatch(router, telemetry, clock),
        ],
        # The Responses translation last: it sees the usage, the public name and the restored text.
        Respond(
            (usage_transform, public_model_name, pii_answer, responses_transform), clock, drain_s=drain_s
        ),
    )
