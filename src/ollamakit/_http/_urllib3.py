"""A synchronous httpx transport on urllib3 2.x.

httpx's own transport parses HTTP/1.1 with h11 in pure Python and spends about 6 µs on every
HTTP chunk; Ollama flushes one chunk per token, so that parser dominates a stream. urllib3
reads chunked bodies through http.client's buffered reader and costs about a third as much
(``docs/performance.md`` has the figures). httpx stays the user-facing layer: auth,
redirects, headers and timeouts work as usual; only the bytes on the wire go through here.
"""

from __future__ import annotations

from collections.abc import Iterator
from http.client import RemoteDisconnected
from typing import Any, cast

import httpx
import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    InvalidChunkLength,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.util.response import is_response_to_head

_READ_SIZE = 65536
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})


def _closed_before_answering(exc: BaseException) -> bool:
    """The server closed the connection before sending a byte (typically a stale pooled one)."""
    reason = exc.args[1] if isinstance(exc, ProtocolError) and len(exc.args) > 1 else None
    return isinstance(reason, RemoteDisconnected | ConnectionResetError | BrokenPipeError)


_MAX_CHUNK_LINE = 2**16  # as urllib3: a longer size or trailer line is a protocol error


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


def _has_buffered_reader(response: urllib3.HTTPResponse) -> bool:
    original: Any = getattr(response, "_fp", None)
    reader = getattr(original, "fp", None)
    return (
        reader is not None
        and hasattr(reader, "peek")
        and getattr(original, "chunk_left", None) is None
        and hasattr(response, "_error_catcher")
        and not is_response_to_head(original)
    )


def _chunk_size(response: urllib3.HTTPResponse, line: bytes) -> int:
    try:
        size = int(line.split(b";", 1)[0], 16)
    except ValueError:
        size = -1
    if size >= 0:
        return size
    response.close()
    if line.strip():
        raise InvalidChunkLength(response, line)
    raise ProtocolError("Response ended prematurely")


def _read_chunked(response: urllib3.HTTPResponse) -> Iterator[bytes]:
    """The payload of a chunked body, yielding everything that has arrived at once.

    urllib3's ``read_chunked`` yields one piece per HTTP chunk, and Ollama sends one chunk
    per token, so every layer above (httpx, the stream, the decoder) would run once per
    token. Here the framing of all chunks already in the socket buffer is undone in one go
    (peeked, then consumed exactly, so the connection stays reusable), which halves the cost
    of a stream. Nothing waits for more data than the next chunk header needs. Errors and the
    end of the body are handled as in ``read_chunked``.
    """
    original: Any = response._fp  # the http.client response; its ``fp`` is the socket reader
    with response._error_catcher():
        reader = original.fp
        if reader is None:
            return
        peek = reader.peek
        consume = reader.read
        left = 0  # payload bytes of the current chunk not read yet
        crlf = 0  # bytes of the CRLF after the current chunk not skipped yet
        while True:
            data = peek()
            if not data:
                response.close()
                raise ProtocolError("Response ended prematurely")
            size = len(data)
            pos = 0
            pieces: list[bytes] = []
            finished = False
            while True:
                if left:
                    end = pos + left
                    if end > size:
                        pieces.append(data[pos:])
                        left = end - size
                        pos = size
                        break
                    pieces.append(data[pos:end])
                    pos = end
                    left = 0
                    crlf = 2
                if crlf:
                    if size - pos < crlf:
                        break
                    pos += crlf
                    crlf = 0
                eol = data.find(b"\r\n", pos)
                if eol < 0:
                    break
                try:
                    left = int(data[pos:eol].split(b";", 1)[0], 16)
                except ValueError:
                    left = -1
                if left < 0:
                    left = 0
                    break  # invalid: raised below, once what came before it is handed over
                pos = eol + 2
                if left == 0:
                    finished = True
                    break
            if pos:
                consume(pos)
            if pieces:
                yield pieces[0] if len(pieces) == 1 else b"".join(pieces)
            if finished:
                break
            if not pos:
                # Less than a CRLF or a size line is buffered (or the line is invalid): block
                # for the rest of it.
                if crlf:
                    if len(consume(crlf)) < crlf:
                        response.close()
                        raise ProtocolError("Response ended prematurely")
                    crlf = 0
                line = reader.readline(_MAX_CHUNK_LINE + 1)
                if len(line) > _MAX_CHUNK_LINE:
                    response.close()
                    raise ProtocolError("Response chunk size line exceeded maximum allowed length")
                left = _chunk_size(response, line)
                if left == 0:
                    break
        while True:  # trailers, up to the empty line that ends the body
            line = reader.readline(_MAX_CHUNK_LINE + 1)
            if len(line) > _MAX_CHUNK_LINE:
                raise ProtocolError("Response chunk trailer line exceeded maximum allowed length")
            if not line or line == b"\r\n":
                break
        original.close()


class _ResponseStream(httpx.SyncByteStream):
    """The body of one response, chunk by chunk as the server sent it."""

    def __init__(self, response: urllib3.HTTPResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request
        self._complete = False

    def __iter__(self) -> Iterator[bytes]:
        response = self._response
        try:
            if response.chunked and _has_buffered_reader(response):
                yield from _read_chunked(response)
            elif response.chunked and response.supports_chunked_reads():
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
            # ``None`` for no body: an empty ``b""`` would go out as an empty chunked body.
            body = request.read() or None
        else:
            body = request.stream
        # A keep-alive connection the server closes while it is being reused fails before any
        # answer; like aiohttp, try an idempotent request once more on a fresh connection.
        attempts = 2 if request.method in _IDEMPOTENT else 1
        url = request.url
        for attempt in range(attempts):
            try:
                # What PoolManager.urlopen does, without formatting the URL httpx has already
                # parsed and parsing it again: a measurable share of a small request.
                pool = self._pool.connection_from_host(
                    url.raw_host.decode("ascii"), url.port, url.scheme
                )
                response = pool.urlopen(
                    request.method,
                    url.raw_path.decode("ascii"),
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
                break
            except (HTTPError, OSError) as exc:
                if attempt + 1 < attempts and _closed_before_answering(exc):
                    continue
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
        # PoolManager.clear() forgets its pools without closing them (urllib3 2.x): their idle
        # keep-alive sockets would stay open until garbage collection, so close each first.
        pools = self._pool.pools
        for key in list(pools.keys()):
            pool = pools.get(key)
            if pool is not None:
                pool.close()
        self._pool.clear()
