"""The network layer: the only code in ollamakit that talks HTTP.

It owns the base URL, default headers and auth, timeouts, opt-in retries, the choice of
transport, and the mapping of every transport failure to ollamakit's error tree. The sync and
async senders differ only where they wait; everything else is in :class:`_HTTPBase`.

httpx is the user-facing HTTP layer (so ``Client(verify=..., proxy=..., transport=...)`` works
as with the official package); by default the bytes travel through faster transports
(urllib3 for sync, aiohttp for async) unless the caller configured the transport themselves.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import platform
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator, Collection, Generator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import httpx

from .. import _env
from .._errors import (
    CONNECTION_HINT,
    ConnectionError,
    ErrorT,
    IncompleteStreamError,
    OllamaError,
    ProtocolError,
    RequestError,
    ResponseError,
    TimeoutError,
    TransportError,
    redact,
    redact_text,
    response_error,
)
from .._host import HostConfig, parse_host
from .._types import NOT_GIVEN
from .._version import __version__
from ._attempts import Attempts, replayable
from ._decoding import ACCEPT_ENCODING, MAX_DECODED_BODY, BodyDecoder, is_encoded

if TYPE_CHECKING:
    from .._signing import OllamaKey

__all__ = [
    "DEFAULT_TIMEOUT",
    "NOT_GIVEN",
    "AsyncHTTP",
    "SyncHTTP",
    "map_transport_error",
]


DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=600.0, write=600.0, pool=60.0)
"""Fail fast on a dead host; allow ten minutes between two bytes (a slow model load)."""

# Passing any of these means the caller wants httpx's own transport configured their way.
_TRANSPORT_OPTIONS = frozenset(
    {"transport", "verify", "cert", "proxy", "proxies", "http1", "http2", "limits", "mounts"}
)
# Options whose work happens in httpx's send chain (auth, cookies, hooks).
_SEND_CHAIN_OPTIONS = frozenset({"auth", "cookies", "event_hooks"})
_DEADLINE_GRACE = 0.05
_LOOPBACK_PATTERNS = ("all://127.0.0.1", "all://localhost", "all://[::1]")
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
_MIN_SECRET_LENGTH = 4  # shorter strings are not redacted: they would mangle every message
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")


def user_agent() -> str:
    return (
        f"ollamakit/{__version__} ({platform.machine()} {platform.system().lower()}) "
        f"Python/{platform.python_version()}"
    )


def _total(value: Any) -> float | None:
    """A number of seconds bounds a whole non-streaming call; an ``httpx.Timeout`` does not."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _as_timeout(value: Any) -> httpx.Timeout:
    if isinstance(value, httpx.Timeout):
        return value
    if value is None:
        return httpx.Timeout(None)
    if isinstance(value, int | float):
        return httpx.Timeout(float(value), connect=min(float(value), DEFAULT_TIMEOUT.connect or 10))
    if isinstance(value, tuple):
        return httpx.Timeout(*value)
    raise RequestError(f"timeout must be a number of seconds, None or httpx.Timeout, not {value!r}")


def map_transport_error(
    exc: BaseException, base_url: str, *, streaming: bool, secrets: Collection[str] = ()
) -> OllamaError:
    """Translate an httpx exception into ollamakit's error tree.

    ``secrets`` (credentials the request carried) are blanked out of the message: some
    underlying libraries quote the offending header value in theirs.
    """
    if isinstance(exc, OllamaError):
        return exc
    message = redact_text(str(exc) or type(exc).__name__, secrets)
    if isinstance(exc, httpx.TimeoutException):
        kind = "connect" if isinstance(exc, httpx.ConnectTimeout) else "read"
        if isinstance(exc, httpx.WriteTimeout | httpx.PoolTimeout):
            kind = "write" if isinstance(exc, httpx.WriteTimeout) else "pool"
        return TimeoutError(f"{kind} timeout talking to {base_url}: {message}")
    if isinstance(exc, httpx.ConnectError):
        return ConnectionError(f"{CONNECTION_HINT.format(url=base_url)} ({message})")
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        if streaming:
            return IncompleteStreamError(
                f"the connection to {base_url} closed before the stream finished ({message})"
            )
        return ProtocolError(f"the server at {base_url} closed the connection: {message}")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return RequestError(f"invalid URL: {message}")
    if isinstance(exc, httpx.TooManyRedirects | httpx.DecodingError | httpx.ProtocolError):
        return ProtocolError(message)
    if isinstance(exc, httpx.StreamError):
        return TransportError(
            f"the request body is streamed and cannot be sent a second time (after a redirect "
            f"or an authentication challenge): {message}"
        )
    if isinstance(exc, httpx.HTTPError):
        return TransportError(message)
    if isinstance(exc, OSError):
        return ConnectionError(f"{CONNECTION_HINT.format(url=base_url)} ({exc})")
    return TransportError(f"{type(exc).__name__}: {message}")


def _error_from_response(response: httpx.Response, body: bytes) -> ResponseError:
    text = body.decode("utf-8", "replace")
    if not text:
        text = response.reason_phrase or f"HTTP {response.status_code}"
    return response_error(text, response.status_code, dict(response.headers))


def _check_header(name: Any, value: Any, source: str) -> None:
    """Reject a header that cannot be sent, without quoting its value (it may be a secret)."""
    if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
        raise RequestError(f"invalid HTTP header name {name!r}")
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    if isinstance(text, str) and not _HEADER_VALUE.fullmatch(text):
        raise RequestError(
            f"{source} contains a line break, a control character or non-ASCII text, which an "
            "HTTP header cannot carry (the value is not shown: it may be a secret)"
        )


class _HTTPBase:
    """Everything about sending a request that does not wait on the network."""

    def __init__(
        self,
        host: str | None,
        *,
        timeout: Any,
        headers: Mapping[str, str] | None,
        follow_redirects: bool,
        retries: int,
        httpx_kwargs: dict[str, Any],
    ) -> None:
        self.host: HostConfig = parse_host(host)
        self.base_url = self.host.base_url
        self.timeout = DEFAULT_TIMEOUT if timeout is NOT_GIVEN else _as_timeout(timeout)
        self.total = None if timeout is NOT_GIVEN else _total(timeout)
        """A numeric client timeout: the limit of each whole non-streaming call."""
        if retries < 0:
            raise RequestError("retries must be >= 0")
        self.retries = retries
        self.follow_redirects = follow_redirects
        self.default_headers = self._headers(headers)
        self.httpx_kwargs = dict(httpx_kwargs)
        if self.host.auth is not None and "auth" not in self.httpx_kwargs:
            self.httpx_kwargs["auth"] = httpx.BasicAuth(*self.host.auth)
        self.uses_own_transport = not (_TRANSPORT_OPTIONS & self.httpx_kwargs.keys())
        self._static_secrets = self._secrets = self._secret_values()
        self._signer = self._signing_key()
        # Signatures of recent requests: replayable for a few minutes, so never echoed either.
        self._signatures: collections.deque[str] = collections.deque(maxlen=64)
        # Requests to a local server can skip httpx's send chain (auth flow, cookie jar,
        # redirect loop: about a fifth of a small request) when none of it has work to do.
        base = httpx.URL(self.base_url)
        self._direct_origin = (base.host, base.port)
        self._direct = (
            self.uses_own_transport
            and self.host.is_loopback
            and not (_SEND_CHAIN_OPTIONS & self.httpx_kwargs.keys())
        )

    def sends_directly(self, request: httpx.Request) -> bool:
        """Whether ``request`` may go straight to the transport (see ``__init__``)."""
        return (
            self._direct
            and (request.url.host, request.url.port) == self._direct_origin
            and replayable(request)
        )

    def _headers(self, user_headers: Mapping[str, str] | None) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            # Only what _decoding undoes, whatever optional decoders httpx found installed.
            "Accept-Encoding": ACCEPT_ENCODING,
            "User-Agent": user_agent(),
        }
        for name, value in (user_headers or {}).items():
            if value is not None:
                _check_header(name, value, f"the value of header {name!r}")
        user = {key.lower(): value for key, value in (user_headers or {}).items()}
        headers = {key: value for key, value in headers.items() if key.lower() not in user}
        headers.update({key: value for key, value in user.items() if value is not None})
        if "authorization" not in user and self.host.auth is None:
            key = _env.api_key()
            if key:
                _check_header("Authorization", key, "OLLAMA_API_KEY")
                headers["Authorization"] = f"Bearer {key}"
        return headers

    def _signing_key(self) -> OllamaKey | None:
        """Ollama's Go client signs each request with the Ollama key when the server is
        ollama.com or ``OLLAMA_AUTH`` is set; an explicit credential wins."""
        if self.has_authorization() or self.host.auth is not None:
            return None
        if httpx.URL(self.base_url).host != "ollama.com" and not _env.sign_requests():
            return None
        from .._keyfile import load_signing_key

        return load_signing_key()

    def _secret_values(self) -> tuple[str, ...]:
        """Credential strings that must never show up in an error message."""
        found: set[str] = set()
        for key, value in self.default_headers.items():
            if key.lower() in _SECRET_HEADERS and isinstance(value, str):
                found.add(value)
                found.update(value.split())
        basic = [self.host.auth, self.httpx_kwargs.get("auth")]
        for auth in basic:
            if isinstance(auth, tuple) and len(auth) == 2 and all(isinstance(a, str) for a in auth):
                user, password = auth
                found.add(password)
                found.add(base64.b64encode(f"{user}:{password}".encode()).decode("ascii"))
        return tuple(
            sorted((s for s in found if len(s) >= _MIN_SECRET_LENGTH), key=len, reverse=True)
        )

    def _error(
        self, exc: BaseException, attempts: Attempts | None, *, streaming: bool
    ) -> OllamaError:
        error = map_transport_error(exc, self.base_url, streaming=streaming, secrets=self._secrets)
        if isinstance(error, TimeoutError) and attempts is not None and attempts.expired():
            return TimeoutError(f"{error}; {self._deadline_error(attempts)}")
        return error

    def _deadline_error(self, attempts: Attempts) -> TimeoutError:
        return TimeoutError(
            f"the call to {self.base_url} did not finish within its timeout of {attempts.total:g} s"
        )

    def attempts(self, request: httpx.Request, timeout: Any) -> Attempts:
        """The tries of ``request``. ``timeout`` is the call's argument (``NOT_GIVEN``: the
        client's) when a number may bound the whole call, None when it may not."""
        total = self.total if timeout is NOT_GIVEN else _total(timeout)
        return Attempts(request, self.retries, total)

    def redact(self, error: ErrorT) -> ErrorT:
        """``error`` with the credentials this client sends blanked out (see ``_errors.redact``)."""
        return redact(error, self._secrets)

    def _client_kwargs(self, transport: Any) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "base_url": self.base_url,
            "headers": self.default_headers,
            "timeout": self.timeout,
            "follow_redirects": self.follow_redirects,
        }
        kwargs.update(self.httpx_kwargs)
        if self.uses_own_transport:
            kwargs["transport"] = transport
            if self.host.is_loopback and kwargs.get("trust_env", True):
                # System proxies must not capture a local server (a proxy answering 502 for
                # localhost is a classic failure); route loopback straight to the transport.
                kwargs["mounts"] = dict.fromkeys(_LOOPBACK_PATTERNS, transport)
        return kwargs

    def build_request(
        self,
        client: httpx.Client | httpx.AsyncClient,
        method: str,
        url: str,
        *,
        content: Any = None,
        timeout: Any = NOT_GIVEN,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Request:
        extra: dict[str, Any] = {}
        if timeout is not NOT_GIVEN:
            extra["timeout"] = _as_timeout(timeout)
        if self._signer is not None and url.startswith("/"):
            # api/client.go: sign "METHOD,PATH?ts=<now>" and add the same ts to the query.
            from .._signing import api_challenge

            now = int(time.time())
            signature = self._signer.sign(api_challenge(method, url, now))
            headers = {**(headers or {}), "Authorization": signature}
            extra["params"] = {"ts": str(now)}
            self._signatures.append(signature.split(":", 1)[1])
            self._secrets = (*self._static_secrets, *self._signatures)
        return client.build_request(method, url, content=content, headers=headers, **extra)

    def has_authorization(self) -> bool:
        return any(key.lower() == "authorization" for key in self.default_headers)

    def has_bearer_token(self) -> bool:
        return any(
            key.lower() == "authorization" and value.startswith("Bearer ")
            for key, value in self.default_headers.items()
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"


class SyncHTTP(_HTTPBase):
    """Blocking sender."""

    def __init__(self, host: str | None, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        transport = None
        if self.uses_own_transport:
            from ._urllib3 import Urllib3Transport

            transport = Urllib3Transport()
        self.transport = transport
        self.client = httpx.Client(**self._client_kwargs(transport))
        # The fast path continues a redirect with httpx's private _build_redirect_request
        # (redirect rules are httpx's job, and the request must not be sent twice). Should an
        # httpx release drop it, the fast path turns itself off: slower, still correct; a test
        # fails loudly so that the change is noticed.
        self._direct = self._direct and callable(
            getattr(self.client, "_build_redirect_request", None)
        )

    def _send_once(self, request: httpx.Request) -> httpx.Response:
        if self.transport is not None and self.sends_directly(request):
            response = self.transport.handle_request(request)
            response.request = request
            if not (response.is_redirect and self.follow_redirects):
                return response
            # Redirects (method changes, dropping credentials across hosts) are httpx's job:
            # continue from the answer we have, never by sending the request a second time.
            response.read()
            response.close()
            request = self.client._build_redirect_request(request, response)
        return self.client.send(request, stream=True)

    def _send(self, request: httpx.Request, attempts: Attempts, *, stream: bool) -> httpx.Response:
        # Errors are raised outside the ``except`` blocks on purpose: chained as __context__,
        # the library's exception would travel with ours, and aiohttp's carries the request
        # headers, API key included, in its repr.
        while True:
            attempts.bound(request)
            failure: httpx.HTTPError | httpx.StreamError | None = None
            try:
                response = self._send_once(request)
            except (httpx.HTTPError, httpx.StreamError) as exc:
                failure = exc
            if failure is None:
                wait = attempts.wait_after_answer(response)
                if wait is None:
                    return response
                response.close()
            else:
                wait = attempts.wait_after_error(failure)
                if wait is None:
                    raise self._error(failure, attempts, streaming=False)
            time.sleep(wait)

    def _read(self, response: httpx.Response, attempts: Attempts) -> bytes:
        """The whole body, decoded, within the call's deadline; the response is closed."""
        error: OllamaError | None = None
        pieces: list[bytes] = []
        body = self._body(response, attempts, MAX_DECODED_BODY)
        try:
            for piece in body:
                pieces.append(piece)
        except OllamaError as exc:
            error = exc
        finally:
            body.close()
            response.close()
        if error is not None:
            raise error
        return b"".join(pieces)

    def _body(
        self, response: httpx.Response, attempts: Attempts | None, limit: int | None
    ) -> Generator[bytes, None, None]:
        encoding = response.headers.get("content-encoding")
        decoder = BodyDecoder(encoding, limit) if is_encoded(encoding) else None
        error: OllamaError | None = None
        try:
            if decoder is None and attempts is None:
                yield from response.iter_raw()  # a plain stream: the fast path
                return
            for chunk in response.iter_raw():
                if decoder is None:
                    yield chunk
                else:
                    yield from decoder.feed(chunk)
                if attempts is not None and attempts.expired():
                    error = self._deadline_error(attempts)
                    break
            else:
                if decoder is not None:
                    yield from decoder.end()
        except httpx.HTTPError as exc:
            error = self._error(exc, attempts, streaming=attempts is None)
        if error is not None:
            raise error

    def request(
        self,
        method: str,
        url: str,
        *,
        content: Any = None,
        timeout: Any = NOT_GIVEN,
        headers: Mapping[str, str] | None = None,
        whole: bool = True,
    ) -> bytes:
        """Send and read the whole (decoded) body; an error status raises
        :class:`ResponseError`. ``whole=False`` applies a numeric timeout per phase only (an
        upload whose length depends on a file) instead of to the whole call."""
        request = self.build_request(
            self.client, method, url, content=content, timeout=timeout, headers=headers
        )
        attempts = self.attempts(request, timeout if whole else None)
        response = self._send(request, attempts, stream=False)
        body = self._read(response, attempts)
        if not response.is_success:
            raise self.redact(_error_from_response(response, body))
        return body

    def open_stream(
        self, method: str, url: str, *, content: Any = None, timeout: Any = NOT_GIVEN
    ) -> httpx.Response:
        """Send and return once the headers are in; the caller reads the body with
        :meth:`iter_body` and closes it."""
        request = self.build_request(self.client, method, url, content=content, timeout=timeout)
        attempts = self.attempts(request, None)
        response = self._send(request, attempts, stream=True)
        if response.is_success:
            return response
        body = self._read(response, attempts)
        raise self.redact(_error_from_response(response, body))

    def iter_body(self, response: httpx.Response) -> Iterator[bytes]:
        """The body's chunks as they arrive, decoded, with failures mapped to ours."""
        return self._body(response, None, None)

    def close(self) -> None:
        self.client.close()


class AsyncHTTP(_HTTPBase):
    """Asyncio sender."""

    def __init__(self, host: str | None, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        transport = None
        if self.uses_own_transport:
            from ._aiohttp import AiohttpTransport

            transport = AiohttpTransport()
        self.client = httpx.AsyncClient(**self._client_kwargs(transport))

    async def _send(
        self, request: httpx.Request, attempts: Attempts, *, stream: bool
    ) -> httpx.Response:
        # Raised outside the ``except`` blocks: see SyncHTTP._send.
        while True:
            attempts.bound(request)
            failure: httpx.HTTPError | httpx.StreamError | None = None
            try:
                response = await self.client.send(request, stream=True)
            except (httpx.HTTPError, httpx.StreamError) as exc:
                failure = exc
            if failure is None:
                wait = attempts.wait_after_answer(response)
                if wait is None:
                    return response
                await response.aclose()
            else:
                wait = attempts.wait_after_error(failure)
                if wait is None:
                    raise self._error(failure, attempts, streaming=False)
            await asyncio.sleep(wait)

    async def _read(self, response: httpx.Response, attempts: Attempts) -> bytes:
        error: OllamaError | None = None
        pieces: list[bytes] = []
        body = self._body(response, attempts, MAX_DECODED_BODY)
        try:
            async for piece in body:
                pieces.append(piece)
        except OllamaError as exc:
            error = exc
        finally:
            await body.aclose()
            await response.aclose()
        if error is not None:
            raise error
        return b"".join(pieces)

    async def _body(
        self, response: httpx.Response, attempts: Attempts | None, limit: int | None
    ) -> AsyncGenerator[bytes, None]:
        encoding = response.headers.get("content-encoding")
        decoder = BodyDecoder(encoding, limit) if is_encoded(encoding) else None
        error: OllamaError | None = None
        try:
            async for chunk in response.aiter_raw():
                if decoder is None:
                    yield chunk
                else:
                    for piece in decoder.feed(chunk):
                        yield piece
                if attempts is not None and attempts.expired():
                    error = self._deadline_error(attempts)
                    break
            else:
                if decoder is not None:
                    for piece in decoder.end():
                        yield piece
        except httpx.HTTPError as exc:
            error = self._error(exc, attempts, streaming=attempts is None)
        if error is not None:
            raise error

    async def _request(
        self, request: httpx.Request, attempts: Attempts
    ) -> tuple[httpx.Response, bytes]:
        response = await self._send(request, attempts, stream=False)
        return response, await self._read(response, attempts)

    async def request(
        self,
        method: str,
        url: str,
        *,
        content: Any = None,
        timeout: Any = NOT_GIVEN,
        headers: Mapping[str, str] | None = None,
        whole: bool = True,
    ) -> bytes:
        request = self.build_request(
            self.client, method, url, content=content, timeout=timeout, headers=headers
        )
        attempts = self.attempts(request, timeout if whole else None)
        remaining = attempts.remaining()
        error: OllamaError | None = None
        if remaining is None:
            response, body = await self._request(request, attempts)
        else:
            # The deadline also covers a server that stalls between two reads. A little later
            # than the deadline, so that a phase's own timeout reports what was slow.
            try:
                response, body = await asyncio.wait_for(
                    self._request(request, attempts), max(remaining, 0.0) + _DEADLINE_GRACE
                )
            except asyncio.TimeoutError as exc:
                if isinstance(exc, OllamaError):  # ours is a TimeoutError too (3.11+)
                    raise
                error = self._deadline_error(attempts)
        if error is not None:
            raise error
        if not response.is_success:
            raise self.redact(_error_from_response(response, body))
        return body

    async def open_stream(
        self, method: str, url: str, *, content: Any = None, timeout: Any = NOT_GIVEN
    ) -> httpx.Response:
        request = self.build_request(self.client, method, url, content=content, timeout=timeout)
        attempts = self.attempts(request, None)
        response = await self._send(request, attempts, stream=True)
        if response.is_success:
            return response
        body = await self._read(response, attempts)
        raise self.redact(_error_from_response(response, body))

    def iter_body(self, response: httpx.Response) -> AsyncIterator[bytes]:
        return self._body(response, None, None)

    async def close(self) -> None:
        await self.client.aclose()
