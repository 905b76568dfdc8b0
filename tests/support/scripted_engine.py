"""An OpenAI-compatible engine that misbehaves on purpose, as real engines do (a test double).

It runs in a thread of the test process on aiohttp.web. What it does is chosen by the model name
(so one engine serves every case) or, for a whole engine, by ``mode``:

    flat-400      older vLLM / SGLang / TensorRT-LLM: {"object":"error","message":...,"code":400}
    fastapi-422   FastAPI's {"detail":[{"loc":[...],"msg":...}]}
    busy-429      429 with Retry-After: 7
    done-nospace  a stream that ends with `data:[DONE]` (legal SSE)
    slow          50 tokens, 20 ms apart, with usage (a stream a client can leave half way)
    gated         a normal answer, held until the test calls ``open_gate()`` (keeps a place busy
                  for exactly as long as a test needs)
    sleepy        a normal answer, 50 ms late
    echo          answers with the text of the last message it received (string or content parts),
                  streamed 4 characters a chunk (so a placeholder is split across chunks)

Every request body it receives is kept in ``bodies`` (what a model would have seen), and the
headers of every inference request in ``headers`` (lower-case names; e.g. ``traceparent``).
    tool          with ``tools`` and no tool result yet: calls the first tool with {"city": "Seoul"}
                  (streamed in two argument pieces); after a ``tool`` message: "sunny: <its content>"
    (anything)    a normal answer with usage

    mode="garbage"    200 with a body that is not JSON, and streams of garbage
    mode="cut"        streams cut after one event (the connection is closed)
    mode="fail-500"   500 to every inference, 200 to GET /models (the prober must not trust it)
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import orjson
from aiohttp import web

from tests.support.scripted_responses import serve_responses
from tests.support.services import free_port


def _chunk(model: str, content: str | None, usage: dict[str, int] | None = None) -> bytes:
    payload: dict[str, Any] = {
        "id": "chatcmpl-x",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": []
        if content is None
        else [{"index": 0, "delta": {"content": content}, "finish_reason": None}],
    }
    if usage is not None:
        payload["usage"] = usage
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def _last_text(body: dict[str, Any]) -> str:
    content = body["messages"][-1].get("content")
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""


_CALL_ARGUMENTS = ('{"city": ', '"Seoul"}')


async def _tool_call(
    request: web.Request, body: dict[str, Any], stream: bool, usage: dict[str, int]
) -> web.StreamResponse:
    """The ``tool`` model's first turn: a call of the first tool, as vLLM answers one."""
    name = body["tools"][0]["function"]["name"]
    if not stream:
        call = {
            "id": "call_1",
            "type": "function",
            "function": {"name": name, "arguments": "".join(_CALL_ARGUMENTS)},
        }
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
        return web.json_response(
            {
                "id": "chatcmpl-x",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
                "usage": usage,
            }
        )
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    deltas: list[dict[str, Any]] = [
        {"index": 0, "id": "call_1", "type": "function", "function": {"name": name, "arguments": ""}},
        *({"index": 0, "function": {"arguments": piece}} for piece in _CALL_ARGUMENTS),
    ]
    for delta in deltas:
        chunk = {
            "id": "chatcmpl-x",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [{"index": 0, "delta": {"tool_calls": [delta]}, "finish_reason": None}],
        }
        await response.write(b"data: " + orjson.dumps(chunk) + b"\n\n")
    if (body.get("stream_options") or {}).get("include_usage"):
        await response.write(_chunk(body["model"], None, usage))
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


def _doc_text(document: Any) -> str:
    return str(document["text"]) if isinstance(document, dict) else str(document)


def _overlap(query: str, text: str) -> float:
    words = set(query.lower().split())
    return len(words & set(text.lower().split())) / max(len(words), 1)


class ScriptedEngine:
    def __init__(self, mode: str = "normal") -> None:
        self.mode = mode
        self.port = free_port()
        self.calls = 0
        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        self._loop = asyncio.new_event_loop()
        self._gate = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> ScriptedEngine:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the scripted engine did not start")
        return self

    def stop(self) -> None:
        async def cleanup() -> None:
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def open_gate(self) -> None:
        """Let every held and future ``gated`` request answer."""
        self._loop.call_soon_threadsafe(self._gate.set)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_post("/v1/completions", self._completions)
        app.router.add_post("/v1/rerank", self._rerank)
        app.router.add_post("/v1/score", self._score)
        app.router.add_post("/v1/responses", self._responses)
        self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        self._loop.run_until_complete(web.TCPSite(self._runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        """The engine's own Responses API (``scripted_responses``), for backends with responses: native."""
        self.calls += 1
        raw = await request.read()
        self.bodies.append(raw)
        self.headers.append({k.lower(): v for k, v in request.headers.items()})
        return await serve_responses(request, orjson.loads(raw))

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "m", "object": "model"}]})

    async def _embeddings(self, request: web.Request) -> web.Response:
        if self.mode == "fail-500":
            return web.json_response({"error": {"message": "engine crashed"}}, status=500)
        raw = await request.read()
        self.bodies.append(raw)
        self.headers.append({k.lower(): v for k, v in request.headers.items()})
        inputs = orjson.loads(raw).get("input")
        count = len(inputs) if isinstance(inputs, list) else 1
        data = [{"object": "embedding", "index": i, "embedding": [0.0, 1.0]} for i in range(count)]
        return web.json_response(
            {"object": "list", "data": data, "model": "m", "usage": {"prompt_tokens": 1, "total_tokens": 1}}
        )

    async def _rerank(self, request: web.Request) -> web.Response:
        """vLLM's (Jina/Cohere-style) rerank: word overlap as the score; usage counts words."""
        raw = await request.read()
        self.bodies.append(raw)
        self.calls += 1
        body = orjson.loads(raw)
        query, documents = str(body["query"]), [_doc_text(d) for d in body["documents"]]
        scored = sorted(
            ((i, _overlap(query, doc)) for i, doc in enumerate(documents)), key=lambda pair: -pair[1]
        )
        results = [{"index": i, "document": {"text": documents[i]}, "relevance_score": s} for i, s in scored]
        words = sum(len(text.split()) for text in [query, *documents])
        return web.json_response(
            {
                "id": "rerank-1",
                "model": body["model"],
                "usage": {"total_tokens": words},
                "results": results[: body.get("top_n") or len(results)],
            }
        )

    async def _score(self, request: web.Request) -> web.Response:
        """vLLM's score: one ``text_1`` against each ``text_2``."""
        raw = await request.read()
        self.bodies.append(raw)
        self.calls += 1
        body = orjson.loads(raw)
        first = str(body["text_1"])
        seconds = body["text_2"] if isinstance(body["text_2"], list) else [body["text_2"]]
        data = [{"index": i, "object": "score", "score": _overlap(first, t)} for i, t in enumerate(seconds)]
        words = sum(len(str(text).split()) for text in [first, *seconds])
        usage = {"prompt_tokens": words, "total_tokens": words, "completion_tokens": 0}
        return web.json_response(
            {
                "id": "score-1",
                "object": "list",
                "created": 0,
                "model": body["model"],
                "data": data,
                "usage": usage,
            }
        )

    async def _completions(self, request: web.Request) -> web.Response:
        self.calls += 1
        raw = await request.read()
        self.bodies.append(raw)
        self.headers.append({k.lower(): v for k, v in request.headers.items()})
        body = orjson.loads(raw)
        prompt = body.get("prompt")
        return web.json_response(
            {
                "id": "cmpl-x",
                "object": "text_completion",
                "created": int(time.time()),
                "model": body.get("model"),
                "choices": [{"index": 0, "text": "abc", "finish_reason": "stop", "logprobs": None}],
                "usage": {
                    "prompt_tokens": len(str(prompt)) // 4,
                    "completion_tokens": 1,
                    "total_tokens": 1 + len(str(prompt)) // 4,
                },
            }
        )

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        self.calls += 1
        self.bodies.append(await request.read())
        self.headers.append({k.lower(): v for k, v in request.headers.items()})
        body = await request.json()
        model, stream = body["model"], bool(body.get("stream"))
        if self.mode == "fail-500":
            return web.json_response({"error": {"message": "CUDA error at /opt/vllm/worker.py"}}, status=500)
        if self.mode == "garbage" and not stream:
            return web.Response(body=b"<html>502 Bad Gateway</html>", content_type="application/json")
        if model == "flat-400":
            return web.json_response(
                {
                    "object": "error",
                    "message": "This model's maximum context length is 4096 tokens. However, you requested "
                    "5000 tokens. (model file /srv/models/x.gguf on gpu-7.internal:8000)",
                    "type": "BadRequestError",
                    "param": None,
                    "code": 400,
                },
                status=400,
            )
        if model == "fastapi-422":
            return web.json_response(
                {
                    "detail": [
                        {"loc": ["body", "temperature"], "msg": "Input should be less than or equal to 2"}
                    ]
                },
                status=422,
            )
        if model == "gated":
            await self._gate.wait()
        if model == "sleepy":  # a normal answer, 50 ms late (keeps a batch running for a while)
            await asyncio.sleep(0.05)
        if model == "busy-429":
            return web.json_response({"detail": "busy"}, status=429, headers={"Retry-After": "7"})
        usage = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
        answer = _last_text(body) if model == "echo" else "abc"
        if model == "tool":
            last = body["messages"][-1]
            if body.get("tools") and last.get("role") != "tool":
                return await _tool_call(request, body, stream, usage)
            answer = "sunny: " + _last_text(body)
        if not stream:
            return web.json_response(
                {
                    "id": "chatcmpl-x",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": answer},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": usage,
                }
            )
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        if self.mode == "garbage":
            await response.write(b"data: <html>oops</html>\n\n")
            await response.write_eof()
            return response
        pieces = [answer[i : i + 4] for i in range(0, len(answer), 4)] if model == "echo" else None
        tokens = 50 if model == "slow" else len(pieces) if pieces is not None else 3
        for index in range(tokens):
            await response.write(_chunk(model, pieces[index] if pieces is not None else f"t{index} "))
            if self.mode == "cut":
                assert request.transport is not None
                request.transport.close()
                return response
            if model == "slow":
                await asyncio.sleep(0.02)
        usage = {"prompt_tokens": 5, "completion_tokens": tokens, "total_tokens": 5 + tokens}
        if (body.get("stream_options") or {}).get("include_usage"):
            await response.write(_chunk(model, None, usage))
        await response.write(b"data:[DONE]\n\n" if model == "done-nospace" else b"data: [DONE]\n\n")
        await response.write_eof()
        return response
