"""May this principal use this model? (Residency and PII modes will plug in here.)"""

from __future__ import annotations

from onshore.domain.tenancy import Principal
from onshore.errors import ModelNotFound, PermissionDenied
from onshore.gateway.routing import Router


def check_model_access(principal: Principal, model: str, router: Router) -> None:
    if not router.serves(model):
        raise ModelNotFound(f"The model '{model}' does not exist.", param="model")
    if not principal.may_use(model):
        raise PermissionDenied(
            f"This API key is not allowed to use the model '{model}'.",
            param="model",
            code="model_not_allowed",
        )


def visible_models(principal: Principal, router: Router) -> list[str]:
    return [m for m in router.models if principal.may_use(m)]
