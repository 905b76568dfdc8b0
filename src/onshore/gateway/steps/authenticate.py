"""Who is calling: the partner key in ``Authorization`` becomes a principal, or a 401."""

from __future__ import annotations

from onshore.gateway.auth import Authenticator
from onshore.gateway.chain import Handler
from onshore.gateway.context import RequestContext


class Authenticate:
    __slots__ = ("_authenticator",)

    def __init__(self, authenticator: Authenticator) -> None:
        self._authenticator = authenticator

    async def __call__(self, ctx: RequestContext, call_next: Handler) -> None:
        if ctx.principal is not None:
            # A request the gateway makes itself (a batch's) carries its owner's identity; the key is
            # checked again, so a key revoked or expired since stops its batch's requests too.
            ctx.principal = self._authenticator.recheck(ctx.principal)
        else:
            authorization = ctx.client.header(b"authorization")
            ctx.principal = await self._authenticator.authenticate(
                authorization.decode("latin-1") if authorization is not None else None
            )
        await call_next(ctx)
