"""A remote OpenAI-compatible engine behind one pooled keep-alive aiohttp session.

aiohttp was chosen by measurement (see README, Performance): at 64 requests in flight it did
6-9k req/s on one core here, httpx about 330. This module is the only one that sees aiohttp's
exceptions; they leave it as Upstream* errors that name no address.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Mapping

import aiohttp
import orjson

from onshore.config.settings import RemoteBackendSettings
from onshore.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from onshore.ports import BackendCall

log = logging.getLogger(__name__)

_JSON = "application/json"


class UpstreamReply:
    __slots__ = ("_response", "status")

    def __init__(self, response: aiohttp.ClientResponse):
        self._response = response
        self.status = response.status

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    async def read(self) -> bytes:
        try:
            return await self._response.read()
        except TimeoutError:
            raise UpstreamTimeout from None
        except aiohttp.ClientError:
            raise UpstreamError from None
        finally:
            self._response.release()

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except TimeoutError:
            raise UpstreamTimeout from None
        except aiohttp.ClientError:
            raise UpstreamError from None

    async def aclose(self) -> None:
        # close(), not release(): a stream abandoned half way must not go back into the pool.
        if not self._response.closed:
            self._response.close()


class RemoteBackend:
    """Implements ``onshore.ports.Backend`` for any OpenAI-compatible HTTP engine."""

    kind = "openai"

    def __init__(self, settings: RemoteBackendSettings, environ: dict[str, str] | None = None):
        self.name = settings.name
        self._settings = settings
        self._base = str(settings.url).rstrip("/")
        env = os.environ if environ is None else environ
        secret = env.get(settings.api_key_env) if settings.api_key_env else None
        self._headers = {"Content-Type": _JSON, "Accept": "*/*"}
        if secret:
            self._headers["Authorization"] = f"Bearer {secret}"
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        timeouts = self._settings.timeouts
        connector = aiohttp.TCPConnector(
            limit=self._settings.max_connections, keepalive_timeout=60, ttl_dns_cache=300
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=timeouts.total_s, sock_connect=timeouts.connect_s, sock_read=timeouts.first_byte_s
            ),
            headers=self._headers,
            auto_decompress=True,
            skip_auto_headers=("User-Agent",),
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _require_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise UpstreamUnavailable
        return self._session

    async def send(self, call: BackendCall) -> UpstreamReply:
        session = self._require_session()
        url = self._base + call.endpoint.path
        headers = {"X-Request-Id": call.request_id}
        if call.headers:  # traceparent, when tracing is on
            headers.update(call.headers)
        try:
            response = await session.post(url, data=call.body, headers=headers)
        except TimeoutError:
            raise UpstreamTimeout from None
        except (aiohttp.ClientConnectionError, OSError):
            raise UpstreamUnavailable from None
        except aiohttp.ClientError:
            raise UpstreamError from None
        return UpstreamReply(response)

    async def check_health(self) -> bool:
        """Ask what matters: a one-token *streamed* inference on one of its models.

        ``GET /models`` is not enough: an engine can list its models and answer 500 to every
        inference, and a prober that trusts the listing brings a broken backend back every few
        seconds. A stream is asked for because it exercises the most: an engine that answers plain
        requests but cuts its streams must stay down too. Healthy means a 2xx whose events end in
        ``[DONE]``. A chat probe that gets a 4xx (an embeddings model, say) is followed by an
        embeddings probe, healthy when it answers a JSON object. 5xx, 401/403 (our credentials are
        wrong), 429, a timeout or a refused connection mean not.
        """
        session = self._require_session()
        model = self._settings.models[0]
        name = model.upstream_name or model.name
        ping = [{"role": "user", "content": "ping"}]
        probes = (
            ("/chat/completions", {"model": name, "messages": ping, "max_tokens": 1, "stream": True}),
            ("/embeddings", {"model": name, "input": "ping"}),
        )
        try:
            async with asyncio.timeout(min(10.0, self._settings.timeouts.connect_s + 5.0)):
                for path, body in probes:
                    async with session.post(self._base + path, json=body) as response:
                        answer = await response.read()
                        status = response.status
                    if status < 300:
                        return b"[DONE]" in answer if body.get("stream") else _is_json_object(answer)
                    if status >= 500 or status in (401, 403, 407, 429):
                        log.warning(
                            "backend health probe failed", extra={"backend": self.name, "status": status}
                        )
                        return False
        except (TimeoutError, aiohttp.ClientError, OSError):
            return False
        return False


def _is_json_object(body: bytes) -> bool:
    try:
        return isinstance(orjson.loads(body), dict)
    except orjson.JSONDecodeError:
        return False
