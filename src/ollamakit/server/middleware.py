"""Server middleware: a one-line access log per request, Ollama's host check and CORS, and
the request body limit.

When bound to loopback, Ollama refuses requests whose ``Host`` is not a local name or
address (a DNS-rebinding guard); browsers are let in only from local origins, the app
schemes Ollama allows, or ``OLLAMA_ORIGINS``.

Request bodies are read into memory to be decoded, so their size is bounded
(``OLLAMAKIT_MAX_BODY``, 64 MiB by default): a larger body is answered 413
``{"error": "http: request body too large"}`` (Go's ``MaxBytesReader`` text) without being
buffered. Blob uploads are exempt; they stream to disk.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import socket
import time
from collections.abc import Callable

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .settings import DEFAULT_MAX_BODY, parse_size

__all__ = [
    "DEFAULT_MAX_BODY",
    "BodyLimitMiddleware",
    "ServerMiddleware",
    "TOO_LARGE",
    "is_loopback_bind",
    "parse_size",
]

TOO_LARGE = "http: request body too large"  # Go's MaxBytesReader error
BODY_TOO_LARGE = b'{"error":"' + TOO_LARGE.encode() + b'"}'

access_log = logging.getLogger("ollamakit.server.access")


def is_loopback_bind(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@functools.lru_cache(maxsize=1)
def _hostname() -> str:
    return socket.gethostname().lower()


def _is_allowed_host(host: str) -> bool:
    """Ollama's DNS-rebinding guard for a loopback-bound server."""
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else host
    elif host.count(":") == 1:
        host = host.rsplit(":", 1)[0]
    host = host.lower()
    if not host:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return (
            address.is_loopback
            or address.is_private
            or address.is_unspecified
            or address.is_link_local
        )
    if host in ("localhost", _hostname()):
        return True
    return host.endswith((".localhost", ".local", ".internal"))


_DEFAULT_ORIGIN_HOSTS = ("localhost", "127.0.0.1", "0.0.0.0")
_ORIGIN_SCHEMES = ("app://", "file://", "tauri://", "vscode-webview://", "vscode-file://")


def _origin_allowed(origin: str, extra: tuple[str, ...]) -> bool:
    if origin.startswith(_ORIGIN_SCHEMES):
        return True
    for pattern in extra:
        if pattern == "*" or pattern == origin:
            return True
        if pattern.endswith("*") and origin.startswith(pattern[:-1]):
            return True
    scheme, _, rest = origin.partition("://")
    if scheme not in ("http", "https"):
        return False
    host = rest.split("/", 1)[0]
    if host.startswith("["):
        host = host[1 : host.find("]")]
    else:
        host = host.rsplit(":", 1)[0] if ":" in host else host
    return host in _DEFAULT_ORIGIN_HOSTS


_PREFLIGHT_HEADERS = {
    "access-control-allow-methods": "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS",
    "access-control-allow-headers": ", ".join(
        [
            "Authorization",
            "Content-Type",
            "User-Agent",
            "Accept",
            "X-Requested-With",
            "OpenAI-Beta",
            *(
                f"x-stainless-{name}"
                for name in [
                    "arch",
                    "async",
                    "custom-poll-interval",
                    "helper-method",
                    "lang",
                    "os",
                    "package-version",
                    "poll-helper",
                    "retry-count",
                    "runtime",
                    "runtime-version",
                    "timeout",
                ]
            ),
        ]
    ),
    "access-control-max-age": "43200",
}


class ServerMiddleware:
    """Access log (one line per request, on stderr), host check and CORS."""

    def __init__(self, app: ASGIApp, *, loopback: bool, origins: tuple[str, ...]) -> None:
        self.app = app
        self.loopback = loopback
        self.origins = origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0
        headers = {
            key.decode("latin-1").lower(): value.decode("latin-1")
            for key, value in scope["headers"]
        }
        origin = headers.get("origin")

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if origin and _origin_allowed(origin, self.origins):
                    extra = [
                        (b"access-control-allow-origin", origin.encode("latin-1")),
                        (b"vary", b"Origin"),
                    ]
                    message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            if (self.loopback and not _is_allowed_host(headers.get("host", ""))) or (
                origin and not _origin_allowed(origin, self.origins)
            ):
                await Response(b"", status_code=403)(scope, receive, send_wrapper)
            elif scope["method"] == "OPTIONS" and origin:
                preflight = Response(b"", status_code=204, headers=_PREFLIGHT_HEADERS)
                await preflight(scope, receive, send_wrapper)
            else:
                await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            client = scope.get("client") or ("-", 0)
            access_log.info(
                "%s | %3d | %12s | %15s | %-7s %s",
                time.strftime("%Y/%m/%d - %H:%M:%S"),
                status,
                _elapsed(elapsed),
                client[0],
                scope["method"],
                f'"{scope["path"]}"',
            )


def _elapsed(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3f}µs"
    if seconds < 1:
        return f"{seconds * 1e3:.6f}ms"
    return f"{seconds:.6f}s"


class BodyLimitMiddleware:
    """Reads each request body, up to ``limit`` bytes, before the route runs; a larger body
    (by ``Content-Length`` or by counting a chunked body) gets 413 at once.

    The route then receives the body in one message and, after it, the client's own
    messages, so disconnects are still seen. Not reading the rest is safe: the HTTP server
    discards what the client still sends once the response is complete.

    ``too_large`` maps path prefixes to what makes the 413 body of an API with its own error
    shape (called per refusal: a body may carry a request id).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        exempt: tuple[str, ...] = (),
        too_large: dict[str, Callable[[], bytes]] | None = None,
    ) -> None:
        self.app = app
        self.limit = limit
        self.exempt = exempt
        self.too_large = too_large or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.limit <= 0 or scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        for key, value in scope["headers"]:
            if key.lower() == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    break
                if declared > self.limit:
                    await self._reject(scope, receive, send)
                    return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # The client left before sending the whole body: let the route see that.
                await self.app(scope, _replay([message], receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._reject(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([body], receive), send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        body = next(
            (shaped() for prefix, shaped in self.too_large.items() if path.startswith(prefix)),
            BODY_TOO_LARGE,
        )
        response = Response(body, status_code=413, media_type="application/json; charset=utf-8")
        await response(scope, receive, send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
