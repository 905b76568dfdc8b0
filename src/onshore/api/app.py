"""The ASGI application: dispatch by path, map errors once, add ``x-request-id`` everywhere."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import Awaitable, Callable

from onshore.api import admin_routes, batch_routes, health, openai_routes, openapi, responses_routes
from onshore.api.cors import Cors
from onshore.api.errors import error_body, to_error
from onshore.api.http import Exchange, RequestIds, request_headers, send_bytes
from onshore.api.types import Receive, Scope, Send
from onshore.domain.catalog import Endpoint
from onshore.errors import MethodNotAllowed, NotFound, OnshoreError
from onshore.lifecycle import DRAIN_STATE
from onshore.observability.logging import request_id_var
from onshore.services import Services
from onshore.web.console import PREFIX as CONSOLE
from onshore.web.console import Console

log = logging.getLogger("onshore.api")

_INFERENCE = {
    "/v1/chat/completions": Endpoint.CHAT,
    "/v1/completions": Endpoint.COMPLETIONS,
    "/v1/embeddings": Endpoint.EMBEDDINGS,
    # vLLM serves rerank under all three paths (Jina/Cohere-style bodies); each goes to /v1/rerank.
    "/v1/rerank": Endpoint.RERANK,
    "/v2/rerank": Endpoint.RERANK,
    "/rerank": Endpoint.RERANK,
    "/v1/score": Endpoint.SCORE,
    "/score": Endpoint.SCORE,
    "/v1/responses": Endpoint.RESPONSES,
}
_MODELS_PREFIX = "/v1/models/"
_ADMIN_PREFIX = "/admin/v1/"


class OnshoreApp:
    def __init__(self, services: Services):
        self.services = services
        self._ids = RequestIds()
        self._console = Console(services)
        self._cors = Cors(services.settings.cors)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = request_headers(scope)
        request_id = self._ids.next()
        token = request_id_var.set(request_id)
        try:
            origin = headers.get(b"origin")
            if origin is not None and self._cors.applies(scope["path"], origin):
                if await self._preflight(
                    scope["method"], origin.decode("latin-1"), headers, request_id, send
                ):
                    return
                send = self._cors.wrap(send, origin.decode("latin-1"), self._org_of(headers))
            await self._dispatch(Exchange(scope, receive, send, headers, request_id))
        except Exception as exc:
            error = to_error(exc, request_id)
            # Handlers raise only before they start a response (a stream reports its own failures
            # in-stream), so this start is the first; if the client is gone, there is no one to tell.
            with contextlib.suppress(OSError, RuntimeError):
                await send_bytes(send, error.status, error_body(error), request_id, extra=error.headers)
        finally:
            request_id_var.reset(token)

    async def _preflight(
        self, method: str, origin: str, headers: dict[bytes, bytes], request_id: str, send: Send
    ) -> bool:
        """Answer a CORS preflight for an allowed origin; False: not one (normal dispatch, a 405)."""
        if method != "OPTIONS" or b"access-control-request-method" not in headers:
            return False
        allowed = self._cors.preflight(origin, headers)
        if allowed is None:
            return False
        await send_bytes(send, 204, b"", request_id, extra=tuple(allowed))
        return True

    def _org_of(self, headers: dict[bytes, bytes]) -> Callable[[], Awaitable[str | None]]:
        """The caller's organisation, for an origin allowed per organisation (the key cache, no DB)."""

        async def org() -> str | None:
            authorization = headers.get(b"authorization")
            try:
                principal = await self.services.authenticator.authenticate(
                    authorization.decode("latin-1") if authorization is not None else None
                )
            except OnshoreError:
                return None
            return principal.org_name

        return org

    async def _dispatch(self, exchange: Exchange) -> None:
        path: str = exchange.scope["path"]
        method: str = exchange.scope["method"]
        endpoint = _INFERENCE.get(path)
        if endpoint is not None:
            _allow(method, "POST")
            await openai_routes.inference(self.services, endpoint, exchange)
        elif path == "/v1/models":
            _allow(method, "GET")
            await openai_routes.list_models(self.services, exchange)
        elif path.startswith(_MODELS_PREFIX) and len(path) > len(_MODELS_PREFIX):
            _allow(method, "GET")
            model = path[len(_MODELS_PREFIX) :]
            await openai_routes.get_model(self.services, model, exchange)
        elif path.startswith(responses_routes.PREFIX):
            await responses_routes.dispatch(self.services, exchange)
        elif _under(path, batch_routes.FILES) or _under(path, batch_routes.BATCHES):
            await batch_routes.dispatch(self.services, exchange)
        elif path.startswith(_ADMIN_PREFIX):
            await admin_routes.dispatch(self.services, exchange)
        elif path == CONSOLE or path.startswith(CONSOLE + "/"):
            await self._console(exchange.scope, exchange.receive, exchange.send)  # HTML, its own errors
        elif path == "/healthz":
            _allow(method, "GET", "HEAD")
            await health.healthz(exchange)
        elif path == "/readyz":
            _allow(method, "GET", "HEAD")
            await health.readyz(self.services, exchange)
        elif path == "/metrics":
            _allow(method, "GET")
            await health.metrics(self.services, exchange)
        elif path in ("/openapi.json", "/v1/openapi.json"):
            _allow(method, "GET")
            await exchange.reply(200, openapi.document_bytes())
        else:
            raise NotFound(f"Unknown path {path[:200]!r}.", code="unknown_url")

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope.get("state")
        if isinstance(state, dict):  # uvicorn's lifespan state: where `onshore serve` finds the drain
            state[DRAIN_STATE] = self.services.lifecycle.begin_drain
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.services.start()
                except OnshoreError as exc:  # e.g. a GGUF file that is missing: the message says it all
                    log.error("start-up failed: %s", exc.message)
                    await send({"type": "lifespan.startup.failed", "message": exc.message})
                    return
                except Exception as exc:
                    log.error("start-up failed", exc_info=exc)
                    await send({"type": "lifespan.startup.failed", "message": _safe_startup_message(exc)})
                    return
                _settle_garbage_collector()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    await self.services.stop()
                finally:
                    await send({"type": "lifespan.shutdown.complete"})
                return


def _settle_garbage_collector() -> None:
    """Keep the cyclic GC off the tail latency.

    Measured at c=64 on one core (load.py, 20,000 requests): with CPython's defaults, full
    collections walking the ~1M objects loaded at start (SQLAlchemy, pydantic, ONNX, ...) cost
    p99 41 ms against p50 8 ms, and 0.149 ms of CPU per request. Freezing what exists after start
    (it lives as long as the process) and collecting the young generation less often gave p99 11 ms,
    0.117 ms per request and 27 % more throughput.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def _safe_startup_message(exc: BaseException) -> str:
    return f"start-up failed: {type(exc).__name__}"


def _allow(method: str, *allowed: str) -> None:
    if method not in allowed:
        error = MethodNotAllowed(f"Method {method} is not allowed here; use {' or '.join(allowed)}.")
        error.headers = ((b"allow", ", ".join(allowed).encode()),)  # RFC 9110: a 405 must name them
        raise error


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")
