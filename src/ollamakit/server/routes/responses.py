"""OpenAI's Responses API, ``POST /v1/responses``: the request translated into a native chat
(``responses_request``), planned and run by the service, and its events translated back
(``responses_output``). Errors have OpenAI's shape and the native statuses."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..service.events import Delta, Done
from ..service.requests import ChatRequest
from ..service.server import Service
from ..validate import CHAT, INLINE_BODY_BYTES, check_body
from .http import (
    SSE_TYPE,
    StreamBody,
    collected,
    decode_foreign_body,
    endpoint,
    json_response,
    read_body,
    sse_events,
    started,
)
from .openai import openai_error
from .responses_output import ResponsesStream, new_ids, whole_response
from .responses_request import RESPONSES_REQUEST, ResponsesRequest, zstd_decompressed

__all__ = ["responses_routes"]


def _translated(body: dict[str, Any]) -> tuple[ResponsesRequest, ChatRequest]:
    """The decoded body as a Responses request and the native chat it asks for."""
    parsed = ResponsesRequest.from_body(body)
    return parsed, ChatRequest.from_body(check_body(parsed.native, CHAT))


class ResponsesAPI:
    def __init__(self, service: Service) -> None:
        self.service = service

    async def create(self, request: Request) -> Response:
        raw = await read_body(request)
        if request.headers.get("content-encoding", "").strip().lower() == "zstd":
            raw = await asyncio.to_thread(zstd_decompressed, raw)
        body = await decode_foreign_body(raw, RESPONSES_REQUEST, "openai")
        if len(raw) <= INLINE_BODY_BYTES:
            parsed, chat = _translated(body)
        else:
            # A million input items take seconds to translate: not on the event loop.
            parsed, chat = await asyncio.to_thread(_translated, body)
        plan = await self.service.plan_chat(chat)
        response_id, item_id = new_ids()
        if plan.prompt is None:
            # No input: the model is only loaded, and the answer is an empty response.
            done = await self.service.load_only(plan)
            return self._loaded(parsed, response_id, item_id, done)
        generation = await self.service.generate(plan)
        if not parsed.stream:
            merged, done = await collected(request, generation)
            answer = whole_response(parsed.echo, response_id, item_id, parsed.model, merged, done)
            return json_response(answer)
        first, rest = await started(request, generation)
        stream = ResponsesStream(parsed.echo, response_id, item_id, parsed.model)
        return StreamBody(sse_events(first, rest, stream.convert), generation.cancel, SSE_TYPE)

    @staticmethod
    def _loaded(parsed: ResponsesRequest, response_id: str, item_id: str, done: Done) -> Response:
        if not parsed.stream:
            return json_response(
                whole_response(parsed.echo, response_id, item_id, parsed.model, Delta(), done)
            )
        stream = ResponsesStream(parsed.echo, response_id, item_id, parsed.model)
        return Response(b"".join(stream.convert(done)), media_type=SSE_TYPE)


def responses_routes(service: Service) -> list[Route]:
    """``POST /v1/responses``."""
    api = ResponsesAPI(service)
    return [Route("/v1/responses", endpoint(api.create, openai_error), methods=["POST"])]
