"""Anthropic's Messages API: ``POST /v1/messages`` (also as ``/v1/messages?beta=true``, the
query is not read) and ``POST /v1/messages/count_tokens``.

A request is translated into the native ``/api/chat`` body (``anthropic_wire``), checked as
the native one and planned by the same service, as Ollama's ``middleware/anthropic.go``
does; the answer is a ``message`` or its server-sent events. Every error has Anthropic's
shape with the native status. ``count_tokens`` (which Ollama does not serve) renders the
prompt with the model's template and counts it with the model's own tokenizer.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..service.generation import GenerationPlan
from ..service.requests import ChatRequest
from ..service.server import Service
from ..validate import CHAT, check_body
from .anthropic_wire import (
    COUNT_TOKENS_REQUEST,
    MESSAGES_REQUEST,
    MessageStream,
    anthropic_error,
    message_id,
    message_response,
    native_chat_body,
)
from .http import (
    SSE_TYPE,
    StreamBody,
    collected,
    decode_foreign,
    endpoint,
    guarded,
    json_response,
    sse_events,
    started,
)

__all__ = ["anthropic_routes"]


class AnthropicAPI:
    """The ``/v1/messages`` handlers: translation around the service."""

    def __init__(self, service: Service) -> None:
        self.service = service

    async def _plan(
        self, request: Request, spec: tuple[str, dict[str, str]], *, counting: bool
    ) -> tuple[dict[str, Any], ChatRequest, GenerationPlan]:
        body = await decode_foreign(request, spec, "anthropic")
        native = native_chat_body(body, counting=counting)
        if counting:
            native["truncate"] = False  # count every message, not what would fit
        parsed = ChatRequest.from_body(check_body(native, CHAT))
        # Ollama drops thinking a model cannot do, since Anthropic clients always ask for it.
        parsed.relax_thinking = True
        return body, parsed, await self.service.plan_chat(parsed)

    async def messages(self, request: Request) -> Response:
        body, parsed, plan = await self._plan(request, MESSAGES_REQUEST, counting=False)
        identifier, model = message_id(), str(body["model"])
        generation = await self.service.generate(plan)
        if not parsed.stream:
            merged, done = await collected(request, generation)
            return json_response(message_response(merged, done, identifier, model))
        first, events = await started(request, generation)
        stream = MessageStream(identifier, model, generation.prompt_tokens)
        body_bytes = sse_events(first, events, stream.convert)
        return StreamBody(body_bytes, generation.cancel, SSE_TYPE)

    async def count_tokens(self, request: Request) -> Response:
        _, _, plan = await self._plan(request, COUNT_TOKENS_REQUEST, counting=True)
        count = await guarded(request, self.service.count_tokens(plan), plan.cancel.set)
        return json_response({"input_tokens": count})


def anthropic_routes(service: Service) -> list[Route]:
    """The routes of Anthropic's Messages API."""
    api = AnthropicAPI(service)
    return [
        Route("/v1/messages", endpoint(api.messages, anthropic_error), methods=["POST"]),
        Route(
            "/v1/messages/count_tokens",
            endpoint(api.count_tokens, anthropic_error),
            methods=["POST"],
        ),
    ]
