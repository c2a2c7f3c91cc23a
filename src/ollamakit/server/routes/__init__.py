"""The HTTP application: every API surface's routes over one :class:`~..service.Service`,
behind the access log, host check, CORS and body limit (``middleware``)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from ..account import account_routes
from ..middleware import TOO_LARGE, BodyLimitMiddleware, ServerMiddleware, is_loopback_bind
from ..service.server import Service
from ..settings import ServerConfig
from ..wire import json_bytes
from .anthropic import anthropic_routes
from .anthropic_wire import anthropic_error
from .http import json_response
from .native import native_routes
from .openai import openai_error, openai_routes
from .responses import responses_routes

__all__ = ["create_app"]


async def _not_found(request: Request, exc: Exception) -> Response:
    return PlainTextResponse("404 page not found", status_code=404)


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    return PlainTextResponse("405 method not allowed", status_code=405)


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 404:
        return await _not_found(request, exc)
    if status == 405:
        return await _method_not_allowed(request, exc)
    detail = exc.detail if isinstance(exc, HTTPException) else str(exc)
    return json_response({"error": str(detail)}, status)


def create_app(config: ServerConfig) -> Starlette:
    """The ASGI application for ``config``."""
    service = Service(config)
    routes = [
        *native_routes(service),
        *openai_routes(service),
        *anthropic_routes(service),
        *responses_routes(service),
        *account_routes(config.cloud_url, no_cloud=config.no_cloud),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.close()

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error},
    )
    app.state.service = service
    # Added first, so it runs inside ServerMiddleware: host check and access log see the 413.
    app.add_middleware(
        BodyLimitMiddleware,
        limit=config.max_body,
        exempt=("/api/blobs/",),
        # The first prefix that matches wins: Anthropic's route before the rest of /v1.
        too_large={
            "/v1/messages": lambda: json_bytes(anthropic_error(TOO_LARGE, 413)),
            "/v1/": lambda: json_bytes(openai_error(TOO_LARGE, 413)),
        },
    )
    app.add_middleware(
        ServerMiddleware,
        loopback=is_loopback_bind(config.host),
        origins=config.origins,
    )
    return app
