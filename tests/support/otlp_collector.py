"""A stand-in for an OpenTelemetry collector: OTLP/HTTP (protobuf) on localhost, in a thread.

It answers ``POST /v1/traces`` with an empty success and keeps every request's raw body and headers,
so a test can decode the spans (``spans()``) and look for text that must never be there.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from aiohttp import web

from tests.support.services import free_port


class OtlpCollector:
    def __init__(self) -> None:
        self.port = free_port()
        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def endpoint(self) -> str:
        """The base, as OTEL_EXPORTER_OTLP_ENDPOINT is written (the exporter adds /v1/traces)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> OtlpCollector:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the OTLP collector stand-in did not start")
        return self

    def stop(self) -> None:
        async def cleanup() -> None:
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def spans(self) -> list[Any]:
        """Every span received, decoded (``opentelemetry.proto`` Span messages)."""
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        found: list[Any] = []
        for body in list(self.bodies):
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for resource in request.resource_spans:
                for scope in resource.scope_spans:
                    found.extend(scope.spans)
        return found

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/traces", self._traces)
        self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        self._loop.run_until_complete(web.TCPSite(self._runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()

    async def _traces(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.read())
        self.headers.append({k.lower(): v for k, v in request.headers.items()})
        return web.Response(body=b"", content_type="application/x-protobuf")
