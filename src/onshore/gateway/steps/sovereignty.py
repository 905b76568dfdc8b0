"""Residency and the personal-data policy, between access and admission.

Residency: the request's allowed jurisdictions are resolved from its key and organisation; a model
that no allowed backend serves is refused here with 403 ``residency_unavailable`` (before admission,
so a refused request spends none of the partner's limits); dispatch then only ever offers backends
inside the set, failover included.

Personal data: ``detect`` counts the types found, ``block`` refuses with 400 ``pii_detected``
naming the types, ``redact`` replaces them with numbered placeholders before the body goes anywhere.
A detector failure refuses the request (503 ``pii_check_failed``): nothing is forwarded unscanned.
Refusals and redactions are audited (counts and types, never a value); counts go to the ledger row
and to metrics.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from onshore.domain.audit import AuditEntry
from onshore.domain.policy import EffectivePolicy, PiiMode
from onshore.errors import PiiDetected, PiiUnavailable, ResidencyRefused, ResidencyUnavailable
from onshore.gateway.chain import Handler
from onshore.gateway.context import RequestContext
from onshore.gateway.personal_data import describe, scan_request
from onshore.gateway.policy import echo
from onshore.gateway.routing import Router
from onshore.ports import AuditSink, Telemetry

log = logging.getLogger(__name__)

PolicyLookup = Callable[[str, str], EffectivePolicy]  # (org id, key id) -> what binds the request


class Sovereignty:
    __slots__ = ("_audit", "_policy", "_router", "_telemetry")

    def __init__(self, policy: PolicyLookup, router: Router, audit: AuditSink, telemetry: Telemetry) -> None:
        self._policy = policy
        self._router = router
        self._audit = audit
        self._telemetry = telemetry

    async def __call__(self, ctx: RequestContext, call_next: Handler) -> None:
        principal, model, body = ctx.principal, ctx.model, ctx.body
        assert principal is not None
        assert model is not None
        assert body is not None
        policy = self._policy(principal.org_id, principal.key_id)
        allowed = policy.jurisdictions
        ctx.jurisdictions = allowed
        if not self._router.serves_within(model, allowed):
            self._telemetry.residency_refused(model)
            self._record(ctx, "residency.refuse", {"model": model, "allowed": sorted(allowed)})
            names = ", ".join(sorted(allowed)) or "none"
            raise ResidencyRefused(
                f"No backend in the jurisdictions this API key may use ({names}) serves the model"
                f" '{echo(model)}'.",
                param="model",
            )
        pii = policy.pii
        if pii.active:
            ctx.pii = pii
            if pii.mode is not PiiMode.OFF:
                await self._apply_pii(ctx)
        try:
            await call_next(ctx)
        except ResidencyUnavailable:
            # The allowed backends failed while others might not have: a residency decision too.
            self._telemetry.residency_refused(model)
            self._record(ctx, "residency.unavailable", {"model": model, "allowed": sorted(allowed)})
            raise

    async def _apply_pii(self, ctx: RequestContext) -> None:
        body, pii = ctx.body, ctx.pii
        assert body is not None
        assert pii is not None
        try:
            scan = await scan_request(body.payload, ctx.endpoint, pii, len(body.raw))
        except Exception:
            # Never the text, nor the exception's message (it may quote the text).
            log.exception("the personal-data detector failed; the request was refused")
            self._record(ctx, "pii.check_failed", {})
            raise PiiUnavailable from None
        counts = scan.counts
        if not counts:
            return
        ctx.pii_counts = counts
        for kind, count in counts.items():
            self._telemetry.pii_found(kind, count, pii.mode.value)
        if pii.mode is PiiMode.BLOCK:
            self._record(ctx, "pii.block", {"types": counts})
            raise PiiDetected(
                f"The request contains personal data of these types: {describe(counts)}. "
                "This API key's policy does not allow sending it.",
                param="messages" if ctx.endpoint.value == "chat.completions" else None,
            )
        if scan.body is not None:  # redact
            body.raw = scan.body
            ctx.placeholders = scan.placeholders
            self._record(ctx, "pii.redact", {"types": counts})

    def _record(self, ctx: RequestContext, action: str, detail: dict[str, object]) -> None:
        principal = ctx.principal
        assert principal is not None
        self._audit.append(
            AuditEntry.create(
                actor=f"key:{principal.key_id}",
                action=action,
                target_type="request",
                target_id=ctx.request_id,
                org_id=principal.org_id,
                detail={"endpoint": ctx.endpoint.value, **detail},
                at=ctx.created_at,
            )
        )
