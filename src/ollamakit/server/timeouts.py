"""Connection timeouts: a client that is silent while the server waits for its request.

uvicorn closes keep-alive connections that stay idle after a response, but nothing ends a
connection whose client never finishes sending its request headers (it may send nothing at
all, or one byte a minute), nor one that stops in the middle of a request body; each holds a
socket and its buffers for good. Two limits end them (``serve`` installs both):

* ``header_timeout`` (``OLLAMAKIT_HEADER_TIMEOUT``, 30 s): a request's headers must be complete
  this long after the connection opened, or after the previous response on it ended. The
  connection is then closed without an answer, as Go's ``ReadHeaderTimeout`` does.
* ``body_timeout`` (``OLLAMAKIT_BODY_TIMEOUT``, 60 s): while a request body is being read,
  the client may stay silent at most this long; every chunk that arrives restarts the clock,
  so a slow upload that keeps sending keeps going. The request is answered 408
  ``{"error": "client sent no data for 60 s while sending the request body"}`` and the
  connection closed.

Neither applies while the server works on a request: a long generation is not a silent
client.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["BodyTimeoutMiddleware", "protocol"]


def protocol(header_timeout: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP/1.1 protocol with a deadline for each request's headers."""

    class HeaderTimeoutProtocol(H11Protocol):
        def connection_made(  # type: ignore[override]  # as uvicorn's own
            self, transport: asyncio.Transport
        ) -> None:
            super().connection_made(transport)
            self._set_header_deadline()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._set_header_deadline()

        def _set_header_deadline(self) -> None:
            if header_timeout > 0:
                self.loop.call_later(header_timeout, self._header_deadline, self.cycle)

        def _header_deadline(self, cycle: Any) -> None:
            # No new request started since the deadline was set: its headers never came.
            if self.cycle is cycle and not self.transport.is_closing():
                self.transport.close()

    return HeaderTimeoutProtocol


class BodyTimeoutMiddleware:
    """Answers 408 and closes the connection when a request body stalls (see module)."""

    def __init__(self, app: ASGIApp, *, timeout: float) -> None:
        self.app = app
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.timeout <= 0:
            await self.app(scope, receive, send)
            return
        body_done = False
        timed_out = False
        answered = False

        async def timed_receive() -> Message:
            nonlocal body_done, timed_out
            if timed_out:
                return {"type": "http.disconnect"}
            if body_done:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.timeout)
            except asyncio.TimeoutError:
                timed_out = True
                if not answered:
                    await _request_timeout(send, self.timeout)
                return {"type": "http.disconnect"}
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal answered
            if timed_out:
                return  # the 408 went out instead of this answer
            if message["type"] == "http.response.start":
                answered = True
            await send(message)

        await self.app(scope, timed_receive, guarded_send)


async def _request_timeout(send: Send, timeout: float) -> None:
    body = b'{"error":"client sent no data for %g s while sending the request body"}' % timeout
    await send(
        {
            "type": "http.response.start",
            "status": 408,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
