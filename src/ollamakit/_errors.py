"""The ollamakit error tree.

Every exception ollamakit raises derives from :class:`OllamaError`; nothing from the HTTP
library, the JSON decoder or pydantic escapes::

    OllamaError
    ├── RequestError                 invalid arguments, caught before sending (also ValueError)
    │   └── ModelfileError           a Modelfile that does not parse (carries the line number)
    ├── ResponseError                the server answered with an error (status or {"error"} line)
    │   ├── BadRequestError          400
    │   ├── AuthenticationError      401 (carries ``signin_url`` when the server sent one)
    │   ├── PermissionDeniedError    403
    │   ├── NotFoundError            404, e.g. an unknown model
    │   ├── RateLimitError           429
    │   ├── InternalServerError      500 and other 5xx not listed here
    │   ├── ServerBusyError          503 (the server's queue is full; ``retry_after`` when sent)
    │   └── StreamError              an ``{"error": ...}`` line in the middle of a stream
    ├── TransportError               the exchange itself failed
    │   ├── ConnectionError          cannot reach the server (also the builtin ConnectionError)
    │   ├── TimeoutError             connect or read timeout (also the builtin TimeoutError)
    │   └── ProtocolError            protocol broken: malformed record, connection dropped
    │       └── IncompleteStreamError   the stream ended before its final ``done`` record
    └── ParseError                   structured output that does not validate against ``format=``

``ResponseError(error, status_code)`` keeps the official package's constructor and attributes.
"""

from __future__ import annotations

import builtins
from collections.abc import Collection
from typing import Any, TypeVar

import msgspec

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "ConnectionError",
    "IncompleteStreamError",
    "InternalServerError",
    "ModelfileError",
    "NotFoundError",
    "OllamaError",
    "ParseError",
    "PermissionDeniedError",
    "ProtocolError",
    "RateLimitError",
    "RequestError",
    "ResponseError",
    "ServerBusyError",
    "StreamError",
    "TimeoutError",
    "TransportError",
    "redact",
    "redact_text",
    "response_error",
]

CONNECTION_HINT = (
    # The official package's sentence first: code written for it matches on it.
    "Failed to connect to Ollama. Please check that Ollama is downloaded, running and accessible. "
    "https://ollama.com/download - nothing answered at {url}: start a server (`ollama serve`, "
    "or `ollamakit serve` for the embedded one) or point OLLAMA_HOST at one"
)


class OllamaError(Exception):
    """Root of every exception raised by ollamakit."""


class RequestError(OllamaError, ValueError):
    """The request was rejected before it was sent (invalid argument, missing file, bad name)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.error,))


class ModelfileError(RequestError):
    """A Modelfile failed to parse; ``line`` is 1-based, or None when the error is file-wide."""

    def __init__(self, error: str, line: int | None = None) -> None:
        message = f"(line {line}): {error}" if line is not None else error
        super().__init__(message)
        self.line = line
        self.reason = error

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.reason, self.line))


def _error_text(body: str) -> str:
    """The server's message: the JSON ``error`` field, or the raw body when it is not one."""
    try:
        decoded = msgspec.json.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return body
    if isinstance(decoded, dict):
        error = decoded.get("error")
        if isinstance(error, str):
            return error
        if error is not None:
            return msgspec.json.encode(error).decode()
    return body


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds: delay-seconds or an HTTP-date (RFC 9110, 10.2.3)."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from datetime import datetime, timezone
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


class ResponseError(OllamaError):
    """The server answered with an error.

    ``error`` is the server's message (the JSON ``error`` field, or the raw body when the body is
    not a JSON object with one); ``status_code`` is the HTTP status, or -1 for an error that
    arrived inside a stream, as in the official package.
    """

    def __init__(
        self,
        error: str,
        status_code: int = -1,
        *,
        body: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.body = error if body is None else body
        self.error = _error_text(error)
        self.status_code = status_code
        self.headers: dict[str, str] = dict(headers or {})
        super().__init__(self.error)

    def __str__(self) -> str:
        return f"{self.error} (status code: {self.status_code})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            type(self),
            (self.body, self.status_code),
            {"headers": self.headers},
        )

    @property
    def retry_after(self) -> float | None:
        """Seconds the server asked us to wait (``Retry-After``), when it said so."""
        return parse_retry_after(self.headers.get("retry-after"))


class BadRequestError(ResponseError):
    """400: the server refused the request (validation, bad name, missing capability)."""


class AuthenticationError(ResponseError):
    """401: missing or invalid credentials."""

    @property
    def signin_url(self) -> str | None:
        try:
            decoded = msgspec.json.decode(self.body)
        except msgspec.DecodeError:
            return None
        url = decoded.get("signin_url") if isinstance(decoded, dict) else None
        return url if isinstance(url, str) else None


class PermissionDeniedError(ResponseError):
    """403: forbidden (cloud disabled, host check)."""


class NotFoundError(ResponseError):
    """404: unknown model, blob or route."""


class RateLimitError(ResponseError):
    """429: too many requests."""


class InternalServerError(ResponseError):
    """500 or another 5xx status."""


class ServerBusyError(ResponseError):
    """503: the server's request queue is full."""


class StreamError(ResponseError):
    """An ``{"error": ...}`` record arrived in the middle of a stream (status code -1)."""


_STATUS_ERRORS: dict[int, type[ResponseError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
    503: ServerBusyError,
}


def response_error(
    body: str, status_code: int, headers: dict[str, str] | None = None
) -> ResponseError:
    """The most specific :class:`ResponseError` subclass for an HTTP error status."""
    cls = _STATUS_ERRORS.get(status_code)
    if cls is None:
        cls = InternalServerError if status_code >= 500 else ResponseError
    return cls(body, status_code, headers=headers)


class TransportError(OllamaError):
    """The HTTP exchange itself failed."""


class ConnectionError(TransportError, builtins.ConnectionError):
    """The server could not be reached (refused, DNS failure, reset before a response)."""


class TimeoutError(TransportError, builtins.TimeoutError):
    """A connect, write or read timeout expired (for streams: the time between two chunks)."""


class ProtocolError(TransportError):
    """The server broke the protocol: a malformed record, or a connection dropped mid-body."""


class IncompleteStreamError(ProtocolError):
    """The stream ended before its final record (``done: true`` or ``status: "success"``)."""


class ParseError(OllamaError, ValueError):
    """Structured output did not validate against the class given as ``format=``.

    ``raw`` holds the text the model produced.
    """

    def __init__(self, error: str, raw: str = "") -> None:
        super().__init__(error)
        self.error = error
        self.raw = raw

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.error, self.raw))


ErrorT = TypeVar("ErrorT", bound=BaseException)
REDACTED = "[secret]"


def redact_text(text: str, secrets: Collection[str]) -> str:
    """``text`` with each of ``secrets`` (longest first) replaced by ``[secret]``."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _scrub(value: Any, secrets: Collection[str]) -> Any:
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, dict):
        return {key: _scrub(item, secrets) for key, item in value.items()}
    return value


def redact(error: ErrorT, secrets: Collection[str]) -> ErrorT:
    """Blank ``secrets`` out of everything ``error`` shows, in place: its message, arguments and
    attributes (``error``, ``body``, ``headers``, ``raw``, ...).

    A server or proxy that echoes the request headers in its answer must not put the API key
    or a password into an exception, its ``str`` or a traceback.
    """
    if not secrets:
        return error
    error.args = tuple(_scrub(arg, secrets) for arg in error.args)
    for name, value in vars(error).items():
        setattr(error, name, _scrub(value, secrets))
    # A chained exception from another library (pydantic quotes its input) cannot be edited:
    # it is detached when it shows a secret; its message is already part of ours.
    for link in ("__cause__", "__context__"):
        chained = getattr(error, link)
        if isinstance(chained, OllamaError):
            redact(chained, secrets)
        elif chained is not None and _shows(chained, secrets):
            setattr(error, link, None)
            error.__suppress_context__ = True
    return error


def _shows(error: BaseException, secrets: Collection[str]) -> bool:
    """Whether ``error`` or an exception chained to it shows one of ``secrets``."""
    pending: list[BaseException | None] = [error]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        texts = (repr(current), str(current), repr(current.args), repr(vars(current)))
        if any(secret in text for text in texts for secret in secrets):
            return True
        pending += [current.__cause__, current.__context__]
    return False
