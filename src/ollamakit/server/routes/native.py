"""Ollama's native API (``/api/*``): bodies in, the service's results out as Ollama's JSON.

Generation streams one NDJSON object per event. Errors found before the first byte is sent
are plain JSON errors with their status; errors after that are a final ``{"error": ...}``
line, as Ollama does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ..._version import OLLAMA_VERSION, __version__
from ..service.errors import message_for
from ..service.events import Delta, Done, Event
from ..service.generation import GenerationPlan
from ..service.jobs import Job
from ..service.requests import ChatRequest, EmbedRequest, GenerateRequest
from ..service.server import Service
from ..validate import CHAT, COPY, CREATE, DELETE, EMBED, EMBEDDINGS, GENERATE, PULL, PUSH, SHOW
from ..wire import FOREVER_NS, json_bytes, rfc3339, rfc3339_far_future, rfc3339_utc_now
from .http import (
    NDJSON_TYPE,
    Answered,
    StreamBody,
    collected,
    decode,
    endpoint,
    guarded,
    json_response,
    large_json_response,
    started,
)

__all__ = ["native_error", "native_routes"]


def native_error(message: str, status: int) -> dict[str, Any]:
    return {"error": message}


def _line(value: Any) -> bytes:
    return json_bytes(value) + b"\n"


class Records:
    """Events as ``/api/chat`` (``message``) or ``/api/generate`` (``response``) objects."""

    def __init__(self, model: str, *, chat: bool) -> None:
        self.model = model
        self.chat = chat
        # Token lines are the hot path: a plain text delta is assembled from pre-encoded
        # pieces around the JSON-encoded text.
        self.head = b'{"model":' + json_bytes(model) + b',"created_at":"'
        if chat:
            self.middle = b'","message":{"role":"assistant","content":'
            self.tail = b'},"done":false}\n'
        else:
            self.middle, self.tail = b'","response":', b',"done":false}\n'

    def line(self, delta: Delta) -> bytes:
        if delta.plain:
            stamp = rfc3339_utc_now().encode()
            return self.head + stamp + self.middle + json_bytes(delta.content) + self.tail
        return _line(self.record(delta))

    def record(self, delta: Delta) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model, "created_at": rfc3339_utc_now()}
        if self.chat:
            message: dict[str, Any] = {"role": "assistant", "content": delta.content}
            if delta.thinking:
                message["thinking"] = delta.thinking
            if delta.tool_calls:
                message["tool_calls"] = delta.tool_calls
            out["message"] = message
        else:
            out["response"] = delta.content
            if delta.thinking:
                out["thinking"] = delta.thinking
        out["done"] = False
        if delta.logprobs:
            out["logprobs"] = delta.logprobs
        return out

    def final(self, done: Done, merged: Delta | None = None) -> dict[str, Any]:
        delta = merged or Delta()
        if done.logprobs and merged is None:
            delta = Delta(logprobs=done.logprobs)
        out = self.record(delta)
        out["done"] = True
        out["done_reason"] = done.reason
        if done.context is not None:
            out["context"] = done.context
        metrics = {
            "total_duration": done.total_ns,
            "load_duration": done.load_ns,
            "prompt_eval_count": done.prompt_eval_count,
            "prompt_eval_duration": done.prompt_eval_ns,
            "eval_count": done.eval_count,
            "eval_duration": done.eval_ns,
        }
        # Ollama leaves out what was not measured.
        out.update((key, value) for key, value in metrics.items() if value)
        return out

    def debug(self, rendered: str) -> dict[str, Any]:
        out = self.record(Delta())
        out["_debug_info"] = {"rendered_template": rendered, "image_count": 0}
        return out


class NativeAPI:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.catalog = service.catalog

    # -- simple routes --------------------------------------------------------------------

    async def root(self, request: Request) -> Response:
        return PlainTextResponse("Ollama is running")

    async def version(self, request: Request) -> Response:
        # Clients compare this with Ollama's releases: the one whose API is implemented.
        response = json_response({"version": OLLAMA_VERSION, "ollamakit": __version__})
        response.headers["x-ollamakit-version"] = __version__
        return response

    async def tags(self, request: Request) -> Response:
        return json_response({"models": await self.catalog.list_models()})

    async def ps(self, request: Request) -> Response:
        models = []
        for running in self.service.running():
            model = running.model
            if running.expires_at_ns is None:
                expires = rfc3339_far_future(time.time_ns(), FOREVER_NS)
            else:
                expires = rfc3339(running.expires_at_ns)
            models.append(
                {
                    "name": model.short_name,
                    "model": model.short_name,
                    "size": running.size,
                    "digest": model.digest,
                    "details": model.details(),
                    "expires_at": expires,
                    "size_vram": 0,
                    "context_length": running.context_length,
                }
            )
        return json_response({"models": models})

    async def show(self, request: Request) -> Response:
        body = await decode(request, SHOW)
        text = body.get("model") or body.get("name") or ""
        model = await self.catalog.find(text, empty_status=400, empty_message="model is required")
        return json_response(await self.catalog.show(model, body, bool(body.get("verbose"))))

    async def copy(self, request: Request) -> Response:
        body = await decode(request, COPY)
        await self.catalog.copy(body.get("source", ""), body.get("destination", ""))
        return Response(b"", status_code=200)

    async def delete(self, request: Request) -> Response:
        body = await decode(request, DELETE)
        await self.service.delete(body.get("model") or body.get("name") or "")
        return Response(b"", status_code=200)

    async def blob(self, request: Request) -> Response:
        text = request.path_params["digest"]
        hexdigest = self.catalog.blob_digest(text)
        exists = self.catalog.has_blob(hexdigest)
        if request.method == "HEAD":
            return Response(b"", status_code=200 if exists else 404)
        if exists:
            return Response(b"", status_code=200)
        writer = self.catalog.blob_writer(hexdigest)
        try:
            async for chunk in request.stream():
                if chunk:
                    writer.write(chunk)
            await self.catalog.commit_blob(writer, text, hexdigest)
        finally:
            writer.abort()
        return Response(b"", status_code=201)

    # -- progress: pull, push, create -----------------------------------------------------

    async def pull(self, request: Request) -> Response:
        body = await decode(request, PULL)
        text = body.get("model") or body.get("name") or ""
        job = self.service.pull(text, insecure=bool(body.get("insecure")))
        return await self._progress(request, job, body.get("stream", True))

    async def push(self, request: Request) -> Response:
        body = await decode(request, PUSH)
        return await self._progress(request, self.service.push(body), body.get("stream", True))

    async def create(self, request: Request) -> Response:
        body = await decode(request, CREATE)
        job = await self.service.create(body)
        return await self._progress(request, job, body.get("stream", True))

    async def _progress(self, request: Request, job: Job, stream: bool) -> Response:
        if not stream:
            last: dict[str, Any] = {}
            while True:
                kind, value = await job.next()
                if kind == "item":
                    last = value
                elif kind == "error":
                    raise Answered(value)
                else:
                    return json_response(last)
        first = await job.next()
        if first[0] == "error":
            raise Answered(first[1])

        async def lines() -> AsyncIterator[bytes]:
            kind, value = first
            while kind == "item":
                yield _line(value)
                kind, value = await job.next()
            if kind == "error":
                yield _line({"error": message_for(value)})

        return StreamBody(lines(), job.cancel.set, NDJSON_TYPE)

    # -- generation -----------------------------------------------------------------------

    async def generate(self, request: Request) -> Response:
        parsed = GenerateRequest.from_body(await decode(request, GENERATE))
        plan = await self.service.plan_generate(parsed)
        return await self._answer(request, plan, Records(parsed.model, chat=False), parsed)

    async def chat(self, request: Request) -> Response:
        parsed = ChatRequest.from_body(await decode(request, CHAT))
        plan = await self.service.plan_chat(parsed)
        return await self._answer(request, plan, Records(parsed.model, chat=True), parsed)

    async def _answer(
        self,
        request: Request,
        plan: GenerationPlan,
        records: Records,
        parsed: ChatRequest | GenerateRequest,
    ) -> Response:
        if plan.prompt is None:
            return json_response(records.final(await self.service.load_only(plan)))
        if parsed.render_only:
            rendered = await guarded(request, self.service.render_only(plan), plan.cancel.set)
            return await large_json_response(records.debug(rendered))
        generation = await self.service.generate(plan)
        if not parsed.stream:
            merged, done = await collected(request, generation)
            return json_response(records.final(done, merged))
        first, events = await started(request, generation)

        async def lines() -> AsyncIterator[bytes]:
            event: Event = first
            while True:
                if isinstance(event, Delta):
                    yield records.line(event)
                elif isinstance(event, Done):
                    yield _line(records.final(event))
                    return
                else:
                    yield _line({"error": message_for(event.error)})
                    return
                event = await anext(events)

        return StreamBody(lines(), generation.cancel, NDJSON_TYPE)

    # -- embeddings -----------------------------------------------------------------------

    async def embed(self, request: Request) -> Response:
        parsed = EmbedRequest.from_body(await decode(request, EMBED))
        cancel = threading.Event()
        result = await guarded(request, self.service.embed(parsed, cancel), cancel.set)
        out: dict[str, Any] = {"model": parsed.model, "embeddings": result.vectors}
        if result.total_ns:
            out["total_duration"] = result.total_ns
        if result.load_ns:
            out["load_duration"] = result.load_ns
        if result.prompt_eval_count:
            out["prompt_eval_count"] = result.prompt_eval_count
        return json_response(out)

    async def embeddings(self, request: Request) -> Response:
        body = await decode(request, EMBEDDINGS)
        parsed = EmbedRequest.from_body({**body, "input": body.get("prompt", "")})
        cancel = threading.Event()
        vector = await guarded(request, self.service.embedding(parsed, cancel), cancel.set)
        return json_response({"embedding": vector})


def native_routes(service: Service) -> list[Route]:
    api = NativeAPI(service)

    def route(path: str, handler: Any, methods: list[str]) -> Route:
        return Route(path, endpoint(handler, native_error), methods=methods)

    return [
        route("/", api.root, ["GET", "HEAD"]),
        route("/api/version", api.version, ["GET", "HEAD"]),
        route("/api/tags", api.tags, ["GET", "HEAD"]),
        route("/api/ps", api.ps, ["GET"]),
        route("/api/show", api.show, ["POST"]),
        route("/api/create", api.create, ["POST"]),
        route("/api/copy", api.copy, ["POST"]),
        route("/api/delete", api.delete, ["DELETE"]),
        route("/api/pull", api.pull, ["POST"]),
        route("/api/push", api.push, ["POST"]),
        route("/api/blobs/{digest}", api.blob, ["HEAD", "POST"]),
        route("/api/generate", api.generate, ["POST"]),
        route("/api/chat", api.chat, ["POST"]),
        route("/api/embed", api.embed, ["POST"]),
        route("/api/embeddings", api.embeddings, ["POST"]),
    ]
