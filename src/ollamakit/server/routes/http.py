"""What every API surface does the same way over HTTP: read and decode the body, notice a
client that goes away, stream a body that always cancels the work behind it when it ends,
and turn exceptions into an error answer in the surface's own shape."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from ..service.errors import RequestCanceled, is_expected, message_for, status_for
from ..service.events import Delta, Done, Event, Failed, collect
from ..service.generation import Generation
from ..validate import BadRequest, decode_request
from ..wire import json_bytes

__all__ = [
    "JSON_TYPE",
    "Answered",
    "NDJSON_TYPE",
    "SSE_TYPE",
    "ErrorShape",
    "Handler",
    "StreamBody",
    "decode",
    "decode_foreign",
    "decode_foreign_body",
    "collected",
    "endpoint",
    "error_response",
    "guarded",
    "json_response",
    "large_json_response",
    "read_body",
    "sse_events",
    "started",
]

log = logging.getLogger("ollamakit.server")

T = TypeVar("T")

JSON_TYPE = "application/json; charset=utf-8"
NDJSON_TYPE = "application/x-ndjson"
SSE_TYPE = "text/event-stream"

Handler = Callable[[Request], Awaitable[Response]]
ErrorShape = Callable[[str, int], Any]
"""A surface's error body for (message, status)."""


def json_response(value: Any, status: int = 200) -> Response:
    return Response(json_bytes(value), status_code=status, media_type=JSON_TYPE)


async def large_json_response(value: Any) -> Response:
    """For answers that may be megabytes (a rendered chat): encoded in a worker."""
    body = await asyncio.to_thread(json_bytes, value)
    return Response(body, status_code=200, media_type=JSON_TYPE)


class StreamBody(StreamingResponse):
    """A streamed body that always runs ``on_close`` (which cancels the work behind it),
    whether it finished, failed or the client went away."""

    def __init__(
        self, content: AsyncIterator[bytes], on_close: Callable[[], None], media_type: str
    ) -> None:
        headers = {"cache-control": "no-cache"} if media_type == SSE_TYPE else None
        super().__init__(content, media_type=media_type, headers=headers)
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._on_close()


async def read_body(request: Request) -> bytes:
    try:
        return await request.body()
    except ClientDisconnect:
        raise RequestCanceled from None


async def decode(request: Request, spec: tuple[str, dict[str, str]]) -> dict[str, Any]:
    """The body decoded and type-checked against one of ``validate``'s field tables."""
    return await decode_request(await read_body(request), spec)


async def decode_foreign(
    request: Request, spec: tuple[str, dict[str, str]], package: str
) -> dict[str, Any]:
    """Decode the body of a non-native API (OpenAI's, Anthropic's) as Ollama's middleware
    does: an empty body is gin's ``EOF``, and Go's messages name the request structs of the
    API's own Go ``package`` rather than ``api``."""
    return await decode_foreign_body(await read_body(request), spec, package)


async def decode_foreign_body(
    raw: bytes, spec: tuple[str, dict[str, str]], package: str
) -> dict[str, Any]:
    """:func:`decode_foreign` of a body already read."""
    if not raw.strip():
        raise BadRequest("EOF")
    try:
        return await decode_request(raw, spec)
    except BadRequest as exc:
        raise BadRequest(exc.message.replace("type api.", f"type {package}."), exc.status) from None


async def _until_disconnect(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def guarded(
    request: Request, awaitable: Awaitable[T], on_disconnect: Callable[[], None]
) -> T:
    """Await ``awaitable``; if the client disconnects first, call ``on_disconnect`` and keep
    waiting (the work winds down on its own and must still be awaited)."""
    work = asyncio.ensure_future(awaitable)
    watcher = asyncio.ensure_future(_until_disconnect(request))
    try:
        done, _ = await asyncio.wait({work, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if work not in done:
            on_disconnect()
        return await work
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await watcher


async def collected(request: Request, generation: Generation) -> tuple[Delta, Done]:
    """A whole generation, for an answer that is not streamed."""
    try:
        return await guarded(request, collect(aiter(generation)), generation.cancel)
    except Exception as exc:
        raise Answered(exc) from exc


async def started(
    request: Request, generation: Generation
) -> tuple[Delta | Done, AsyncIterator[Event]]:
    """A generation's first event and the rest, once there is something to stream; a failure
    before that is answered with its status."""
    events = aiter(generation)
    first = await guarded(request, anext(events), generation.cancel)
    if isinstance(first, Failed):
        raise Answered(first.error)
    return first, events


async def sse_events(
    first: Event, rest: AsyncIterator[Event], convert: Callable[[Event], list[bytes]]
) -> AsyncIterator[bytes]:
    """The server-sent events of a started generation (see :func:`started`): each event
    converted by a foreign API's stream, up to the first that is not a delta (done or
    failed), which ends the stream."""
    event = first
    while True:
        chunks = convert(event)
        if chunks:
            yield b"".join(chunks)
        if not isinstance(event, Delta):
            return
        event = await anext(rest)


def report(request: Request, exc: BaseException) -> None:
    """Log what the client cannot be blamed for, with its traceback."""
    if not is_expected(exc):
        log.error(
            "%s %s failed:\n%s",
            request.method,
            request.url.path,
            "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        )


def error_response(exc: BaseException, shape: ErrorShape) -> Response:
    status = status_for(exc)
    return json_response(shape(message_for(exc), status), status)


class Answered(Exception):
    """A failure of the work a request started (a generation, a pull): answered with its
    status like any other, but not logged, since the work reports its own outcome."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def endpoint(handler: Handler, shape: ErrorShape) -> Handler:
    """``handler`` with every exception answered as ``shape(message, status)``; unexpected
    ones are logged with their traceback."""

    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except Answered as answered:
            return error_response(answered.error, shape)
        except ClientDisconnect:
            # The client went away mid-request (e.g. during a blob upload); nobody reads this.
            return error_response(RequestCanceled(), shape)
        except Exception as exc:
            report(request, exc)
            return error_response(exc, shape)

    return run
