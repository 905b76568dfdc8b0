"""May this principal use this model? (Residency and PII modes plug in beside it as steps.)"""

from __future__ import annotations

from onshore.domain.catalog import Endpoint
from onshore.domain.tenancy import Principal
from onshore.errors import InvalidRequest, ModelNotFound, PermissionDenied
from onshore.gateway.chain import Handler
from onshore.gateway.context import RequestContext
from onshore.gateway.routing import Router

_ECHO_MAX = 200  # a model name is echoed in errors only this far: a 7 MB name is not sent back


def check_model_access(principal: Principal, model: str, router: Router) -> None:
    if not router.serves(model):
        raise ModelNotFound(f"The model '{echo(model)}' does not exist.", param="model")
    if not principal.may_use(model):
        raise PermissionDenied(
            f"This API key is not allowed to use the model '{echo(model)}'.",
            param="model",
            code="model_not_allowed",
        )


def echo(model: str) -> str:
    return model if len(model) <= _ECHO_MAX else model[:_ECHO_MAX] + "…"


def visible_models(principal: Principal, router: Router, allowed: frozenset[str] | None = None) -> list[str]:
    """The models this key may use and can reach from its jurisdictions (``allowed``; None: any)."""
    return [
        m
        for m in router.models
        if principal.may_use(m) and (allowed is None or router.serves_within(m, allowed))
    ]


_RERANKING = frozenset({Endpoint.RERANK, Endpoint.SCORE})  # only to engines flagged as serving them


class CheckAccess:
    """The step: the model exists here and this key may use it."""

    __slots__ = ("_router",)

    def __init__(self, router: Router) -> None:
        self._router = router

    async def __call__(self, ctx: RequestContext, call_next: Handler) -> None:
        principal, model = ctx.principal, ctx.model
        assert principal is not None  # authenticate ran
        assert model is not None  # read_request ran
        check_model_access(principal, model, self._router)
        if ctx.endpoint in _RERANKING and not any(r.rerank for r in self._router.routes_for(model)):
            raise InvalidRequest(
                f"The model '{echo(model)}' does not serve /v1/{ctx.endpoint.value}.", param="model"
            )
        await call_next(ctx)
