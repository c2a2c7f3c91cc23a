"""A synchronous httpx transport on urllib3 2.x.

httpx's own transport parses HTTP/1.1 with h11 in pure Python and spends about 6 µs on every
HTTP chunk; Ollama flushes one chunk per token, so that parser dominates a stream. urllib3
reads chunked bodies through http.client's buffered reader and costs about a third as much
(``docs/performance.md`` has the figures). httpx stays the user-facing layer: auth,
redirects, headers and timeouts work as usual; only the bytes on the wire go through here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import httpx
import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

_READ_SIZE = 65536


def _map_error(exc: BaseException, request: httpx.Request) -> httpx.HTTPError:
    if isinstance(exc, MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    message = str(exc)
    # NewConnectionError subclasses ConnectTimeoutError in urllib3 2, so it is tested first.
    if isinstance(exc, NameResolutionError | NewConnectionError | SSLError):
        return httpx.ConnectError(message, request=request)
    if isinstance(exc, ConnectTimeoutError):
        return httpx.ConnectTimeout(message, request=request)
    if isinstance(exc, ReadTimeoutError | TimeoutError):
        return httpx.ReadTimeout(message, request=request)
    if isinstance(exc, ProtocolError):
        return httpx.RemoteProtocolError(message, request=request)
    if isinstance(exc, ConnectionError):
        return httpx.ConnectError(message, request=request)
    return httpx.TransportError(message, request=request)


class _ResponseStream(httpx.SyncByteStream):
    """The body of one response, chunk by chunk as the server sent it."""

    def __init__(self, response: urllib3.HTTPResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request
        self._complete = False

    def __iter__(self) -> Iterator[bytes]:
        response = self._response
        try:
            if response.chunked and response.supports_chunked_reads():
                yield from response.read_chunked(decode_content=False)
            else:
                read1 = response.read1
                while chunk := read1(_READ_SIZE, decode_content=False):
                    yield chunk
                expected = response.length_remaining
                if expected:
                    raise httpx.RemoteProtocolError(
                        f"peer closed connection with {expected} bytes of the body unread",
                        request=self._request,
                    )
        except (HTTPError, OSError) as exc:
            raise _map_error(exc, self._request) from exc
        self._complete = True

    def close(self) -> None:
        if self._complete:
            self._response.release_conn()
        else:
            # Unread bytes would poison the pooled connection; closing it is also what tells
            # Ollama to stop generating.
            self._response.close()
            self._response.release_conn()


class Urllib3Transport(httpx.BaseTransport):
    """Send httpx requests through a urllib3 ``PoolManager``."""

    def __init__(self, *, maxsize: int = 20) -> None:
        self._pool = urllib3.PoolManager(maxsize=maxsize, block=False, retries=False)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        timeouts: dict[str, Any] = request.extensions.get("timeout", {})
        timeout = urllib3.Timeout(connect=timeouts.get("connect"), read=timeouts.get("read"))
        body: Any
        if isinstance(request.stream, httpx.ByteStream):
            body = request.read()
        else:
            body = request.stream
        try:
            response = self._pool.urlopen(
                request.method,
                str(request.url),
                body=body,
                headers=dict(request.headers.multi_items()),
                redirect=False,
                retries=False,
                timeout=timeout,
                preload_content=False,
                decode_content=False,
                assert_same_host=False,
                chunked="content-length" not in request.headers and body is not None,
            )
        except (HTTPError, OSError) as exc:
            raise _map_error(exc, request) from exc
        return httpx.Response(
            status_code=response.status,
            headers=list(response.headers.items()),
            stream=_ResponseStream(cast(urllib3.HTTPResponse, response), request),
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": (response.reason or "").encode("ascii", "ignore"),
            },
        )

    def close(self) -> None:
        self._pool.clear()
