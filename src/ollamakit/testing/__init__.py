"""A scriptable fake Ollama server on a real socket, for testing code that talks to Ollama.

It listens on 127.0.0.1 (a free port), records every request and answers with the replies you
script, byte for byte as Ollama frames them: NDJSON streams go out with chunked transfer
encoding, one HTTP chunk per line. It can also misbehave on purpose (drop the connection
mid-stream, stall, send garbage or an error line) so you can test your error handling::

    from ollamakit import Client
    from ollamakit.testing import FakeOllama, Reply, chat_stream

    with FakeOllama() as server:
        server.expect("POST", "/api/chat", Reply.ndjson(chat_stream(["Hel", "lo"])))
        client = Client(server.url)
        text = "".join(chunk.message.content for chunk in client.chat("m", [], stream=True))
        assert text == "Hello"
        assert server.requests[-1].json()["model"] == "m"

The helpers script by kind instead of by route, and answer in the shape each request asks
for (native or OpenAI-compatible route, streamed or not)::

    server.chat("Hello there")                  # the next chat, however it is asked
    server.chat(["Hel"], error="out of memory")  # a chunk, then Ollama's error line
    server.embed()                               # a deterministic vector per input text
    assert server.last("chat").json()["messages"][-1]["content"] == "Hi"

Standard library only, so it works wherever ollamakit does.
"""

from __future__ import annotations

import hashlib
import json
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "FakeOllama",
    "Faults",
    "RecordedRequest",
    "Reply",
    "chat_stream",
    "generate_stream",
    "timestamp",
    "tool_call",
]

_REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    301: "Moved Permanently",
    302: "Found",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


_SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})


@dataclass
class RecordedRequest:
    """One request the fake server received.

    ``headers`` hold the real values; the ``repr`` masks credentials, so a failing assertion
    does not print a developer's ``OLLAMA_API_KEY`` into a CI log.
    """

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def __repr__(self) -> str:
        headers = {
            key: "[secure]" if key.lower() in _SENSITIVE_HEADERS else value
            for key, value in self.headers.items()
        }
        return (
            f"RecordedRequest(method={self.method!r}, path={self.path!r}, query={self.query!r}, "
            f"headers={headers!r}, body={self.body!r})"
        )


# A reply is a list of steps run on the connection: bytes to send, a pause, or a hang-up.
_Step = bytes | float | None


@dataclass
class Reply:
    """What the fake server sends back. Build one with the class methods."""

    steps: list[_Step] = field(default_factory=list)
    keep_alive: bool = True

    @staticmethod
    def _head(status: int, headers: dict[str, str]) -> bytes:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
        lines += [f"{key}: {value}" for key, value in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    @classmethod
    def body(
        cls,
        data: bytes | str,
        status: int = 200,
        content_type: str = "text/plain; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """A complete response with a ``Content-Length`` body."""
        payload = data.encode() if isinstance(data, str) else data
        head = {"Content-Type": content_type, "Content-Length": str(len(payload))}
        head.update(headers or {})
        return cls([cls._head(status, head) + payload])

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        """A JSON response, compact as Ollama writes it."""
        return cls.body(_compact_json(obj), status, "application/json; charset=utf-8", headers)

    @classmethod
    def error(cls, message: str, status: int = 400, headers: dict[str, str] | None = None) -> Reply:
        """Ollama's error shape: ``{"error": message}`` with a status code."""
        return cls.json({"error": message}, status, headers)

    @classmethod
    def empty(cls, status: int = 200) -> Reply:
        """An empty body (what ``/api/copy`` and ``/api/delete`` answer)."""
        return cls.body(b"", status, "text/plain; charset=utf-8")

    @classmethod
    def ndjson(
        cls,
        records: Iterable[Any],
        *,
        delay: float = 0.0,
        complete: bool = True,
        status: int = 200,
    ) -> Reply:
        """A chunked NDJSON stream, one HTTP chunk per record, as Ollama sends it.

        ``records`` are dicts (encoded as JSON lines) or raw ``bytes`` sent as one chunk
        verbatim (for malformed data). ``delay`` pauses before each record. With
        ``complete=False`` the connection is cut without the terminating chunk.
        """
        lines = [
            record if isinstance(record, bytes) else (_compact_json(record) + "\n").encode()
            for record in records
        ]
        return cls._chunked("application/x-ndjson", lines, delay, complete, status)

    @classmethod
    def sse(
        cls,
        events: Iterable[Any],
        *,
        delay: float = 0.0,
        complete: bool = True,
        done: bool = False,
        status: int = 200,
    ) -> Reply:
        """Server-sent events as Ollama's OpenAI-compatible routes send them: one
        ``data: <json>`` event per HTTP chunk, then ``data: [DONE]`` when ``done``.
        ``bytes`` events are sent verbatim; ``delay`` and ``complete`` as for :meth:`ndjson`.
        """
        frames = [
            event if isinstance(event, bytes) else f"data: {_compact_json(event)}\n\n".encode()
            for event in events
        ]
        if done:
            frames.append(b"data: [DONE]\n\n")
        return cls._chunked("text/event-stream", frames, delay, complete, status)

    @classmethod
    def _chunked(
        cls, content_type: str, pieces: list[bytes], delay: float, complete: bool, status: int
    ) -> Reply:
        head = {"Content-Type": content_type, "Transfer-Encoding": "chunked"}
        steps: list[_Step] = [cls._head(status, head)]
        for piece in pieces:
            if delay:
                steps.append(delay)
            steps.append(b"%x\r\n%s\r\n" % (len(piece), piece))
        if complete:
            steps.append(b"0\r\n\r\n")
            return cls(steps)
        steps.append(None)
        return cls(steps, keep_alive=False)

    @classmethod
    def raw(cls, data: bytes, *, close: bool = True) -> Reply:
        """Send ``data`` as is (no status line added), then hang up unless ``close=False``."""
        return cls([data, None] if close else [data], keep_alive=not close)

    @classmethod
    def hang_up(cls) -> Reply:
        """Close the connection without answering."""
        return cls([None], keep_alive=False)

    @classmethod
    def redirect(cls, location: str, status: int = 307) -> Reply:
        return cls([cls._head(status, {"Location": location, "Content-Length": "0"})])

    def after(self, seconds: float) -> Reply:
        """The same reply, sent after a pause (a stalled server)."""
        return Reply([seconds, *self.steps], self.keep_alive)


Handler = Reply | Callable[[RecordedRequest], Reply]
Key = TypeVar("Key")


class Faults(TypedDict, total=False):
    """How a scripted answer misbehaves (see :meth:`FakeOllama.chat`)."""

    error: str | None
    status: int
    cut: bool
    delay: float
    after: float


def _compact_json(obj: Any) -> str:
    """JSON as Ollama's Go encoder writes it: no spaces, UTF-8 kept."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def timestamp() -> str:
    """``created_at`` as Ollama writes it: RFC 3339, UTC, nanoseconds."""
    now = datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond:06d}123Z"


def _metrics(tokens: int) -> dict[str, Any]:
    return {
        "total_duration": 4_883_583_458,
        "load_duration": 1_334_875,
        "prompt_eval_count": 26,
        "prompt_eval_duration": 342_546_000,
        "eval_count": tokens,
        "eval_duration": 4_535_599_000,
    }


def chat_stream(
    tokens: Sequence[str],
    *,
    model: str = "llama3.2",
    thinking: Sequence[str] = (),
    tool_calls: Sequence[dict[str, Any]] = (),
    done_reason: str = "stop",
) -> list[dict[str, Any]]:
    """The records of a ``/api/chat`` stream as Ollama sends them, final metrics included."""
    records: list[dict[str, Any]] = []
    message: dict[str, Any]
    for piece in thinking:
        message = {"role": "assistant", "content": "", "thinking": piece}
        records.append(
            {"model": model, "created_at": timestamp(), "message": message, "done": False}
        )
    for token in tokens:
        message = {"role": "assistant", "content": token}
        records.append(
            {"model": model, "created_at": timestamp(), "message": message, "done": False}
        )
    if tool_calls:
        message = {"role": "assistant", "content": "", "tool_calls": list(tool_calls)}
        records.append(
            {"model": model, "created_at": timestamp(), "message": message, "done": False}
        )
    final = {
        "model": model,
        "created_at": timestamp(),
        "message": {"role": "assistant", "content": ""},
        "done": True,
        "done_reason": done_reason,
        **_metrics(len(tokens)),
    }
    records.append(final)
    return records


def tool_call(
    name: str, arguments: dict[str, Any] | None = None, *, id: str | None = None
) -> dict[str, Any]:
    """A tool call as Ollama writes it in ``message.tool_calls``, for
    :meth:`FakeOllama.chat`'s ``tool_calls``."""
    call_id = id or "call_" + hashlib.sha256(name.encode()).hexdigest()[:8]
    return {"id": call_id, "function": {"name": name, "arguments": dict(arguments or {})}}


def generate_stream(
    tokens: Sequence[str], *, model: str = "llama3.2", done_reason: str = "stop"
) -> list[dict[str, Any]]:
    """The records of a ``/api/generate`` stream as Ollama sends them."""
    records: list[dict[str, Any]] = [
        {"model": model, "created_at": timestamp(), "response": token, "done": False}
        for token in tokens
    ]
    records.append(
        {
            "model": model,
            "created_at": timestamp(),
            "response": "",
            "done": True,
            "done_reason": done_reason,
            "context": [1, 2, 3],
            **_metrics(len(tokens)),
        }
    )
    return records


class FakeOllama:
    """A fake Ollama server on ``127.0.0.1`` (free port). Use as a context manager.

    Unscripted routes answer like an idle Ollama: ``/`` says "Ollama is running",
    ``/api/version`` returns a version, anything else is a 404 ``{"error": ...}``.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._listener = socket.create_server((host, port))
        self._listener.settimeout(0.2)
        self.host, self.port = self._listener.getsockname()[:2]
        self.requests: list[RecordedRequest] = []
        self._routes: dict[tuple[str, str], deque[Handler]] = {}
        self._last_used: dict[tuple[str, str], Handler] = {}
        # Answers scripted by kind (chat, generate, embed, pull), shared by that kind's routes.
        self._answers: dict[str, deque[Handler]] = {}
        self._last_answer: dict[str, Handler] = {}
        self._route_kinds: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        self._running = False
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self.connections_opened = 0

    @property
    def url(self) -> str:
        """Base URL to hand to a client, e.g. ``http://127.0.0.1:38121``."""
        return f"http://{self.host}:{self.port}"

    # -- scripting --------------------------------------------------------------------------

    def expect(self, method: str, path: str, *replies: Handler) -> FakeOllama:
        """Queue replies for ``method path``: used in order; when none is left, the last used
        one repeats."""
        with self._lock:
            queue = self._routes.setdefault((method.upper(), path), deque())
            queue.extend(replies)
        return self

    def chat(
        self,
        content: str | Sequence[str] = "",
        *,
        thinking: str | Sequence[str] = (),
        tool_calls: Sequence[dict[str, Any]] = (),
        done_reason: str = "stop",
        **faults: Unpack[Faults],
    ) -> FakeOllama:
        """Queue the answer to the next chat, on ``/api/chat`` or ``/v1/chat/completions``.

        ``content`` is the text (a string is streamed word by word; a list gives the exact
        chunks), ``thinking`` the reasoning before it, ``tool_calls`` a list of
        :func:`~ollamakit.testing.tool_call` dicts. Faults, for this and the other helpers:

        - ``error="..."`` with ``status`` 400 or more: that error status and message;
        - ``error="..."`` alone: the streamed part, then an error line (a 500 without
          streaming), as when Ollama fails mid-generation;
        - ``cut=True``: the streamed part, then the connection drops (no answer at all
          without streaming);
        - ``delay``: seconds between chunks; ``after``: seconds before the answer.

        Answers are used in order; once they are used up, the last one repeats.
        """
        from ._answers import ChatAnswer, Fault, split_text

        answer = ChatAnswer(
            Fault(**faults),
            content=split_text(content),
            thinking=split_text(thinking),
            tool_calls=list(tool_calls),
            done_reason=done_reason,
        )
        return self._script("chat", answer)

    def generate(
        self,
        response: str | Sequence[str] = "",
        *,
        thinking: str | Sequence[str] = (),
        done_reason: str = "stop",
        **faults: Unpack[Faults],
    ) -> FakeOllama:
        """Queue the answer to the next generate, on ``/api/generate`` or
        ``/v1/completions``; arguments as for :meth:`chat`."""
        from ._answers import Fault, GenerateAnswer, split_text

        answer = GenerateAnswer(
            Fault(**faults),
            response=split_text(response),
            thinking=split_text(thinking),
            done_reason=done_reason,
        )
        return self._script("generate", answer)

    def embed(
        self,
        vectors: Sequence[Sequence[float]] | None = None,
        *,
        dimensions: int = 8,
        **faults: Unpack[Faults],
    ) -> FakeOllama:
        """Queue the answer to the next embedding request, on ``/api/embed``,
        ``/api/embeddings`` or ``/v1/embeddings`` (base64 too, as the ``openai`` client asks).

        Without ``vectors``, each input text gets a deterministic unit vector of
        ``dimensions`` (or the request's ``dimensions``): equal texts, equal vectors.
        Faults as for :meth:`chat`.
        """
        from ._answers import EmbedAnswer, Fault

        given = None if vectors is None else [list(vector) for vector in vectors]
        answer = EmbedAnswer(Fault(**faults), vectors=given, dimensions=dimensions)
        return self._script("embed", answer)

    def pull(
        self,
        *,
        total: int = 1000,
        **faults: Unpack[Faults],
    ) -> FakeOllama:
        """Queue the answer to the next ``/api/pull``: Ollama's progress records for one
        layer of ``total`` bytes, then ``success``. ``error`` (say ``"pull model manifest:
        file does not exist"``) comes after ``pulling manifest``. Faults as for :meth:`chat`.
        """
        from ._answers import Fault, PullAnswer

        answer = PullAnswer(Fault(**faults), total=total)
        return self._script("pull", answer)

    def _script(self, kind: str, answer: Handler) -> FakeOllama:
        from ._answers import KIND_ROUTES

        with self._lock:
            for route in KIND_ROUTES[kind]:
                self._route_kinds[route] = kind
            self._answers.setdefault(kind, deque()).append(answer)
        return self

    # -- what was received ------------------------------------------------------------------

    def calls(self, kind: str | None = None) -> list[RecordedRequest]:
        """The requests received, in order: all of them, those of one kind (``"chat"``,
        ``"generate"``, ``"embed"``, ``"pull"``: every route of that kind) or those to one
        path (``"/api/tags"``)."""
        from ._answers import KIND_ROUTES

        with self._lock:
            received = list(self.requests)
        if kind is None:
            return received
        paths = {path for _, path in KIND_ROUTES.get(kind, ())} or {kind}
        return [request for request in received if request.path in paths]

    def last(self, kind: str | None = None) -> RecordedRequest:
        """The last request received (of a kind or to a path, as for :meth:`calls`); an
        ``AssertionError`` naming what was received when there is none."""
        matching = self.calls(kind)
        if not matching:
            seen = [f"{request.method} {request.path}" for request in self.calls()]
            wanted = f"no {kind} request" if kind else "no request"
            raise AssertionError(f"{wanted} reached the fake Ollama; it received {seen}")
        return matching[-1]

    def _handler_for(self, request: RecordedRequest) -> Handler:
        route = (request.method, request.path)
        with self._lock:
            handler = _next_handler(self._routes, self._last_used, route)
            if handler is not None:
                return handler
            kind = self._route_kinds.get(route)
            if kind is not None:
                answer = _next_handler(self._answers, self._last_answer, kind)
                if answer is not None:
                    return answer
        if request.path == "/" and request.method in ("GET", "HEAD"):
            return Reply.body("Ollama is running")
        if request.path == "/api/version":
            return Reply.json({"version": "0.33.0"})
        return Reply.error(f"no reply scripted for {request.method} {request.path}", 404)

    @property
    def open_connections(self) -> int:
        """Client connections currently open (to check that clients release them)."""
        with self._lock:
            return len(self._connections)

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> FakeOllama:
        self._running = True
        self._thread = threading.Thread(target=self._serve, name="fake-ollama", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._running = False
        try:
            # Wakes the accept loop now (Linux) instead of at its next poll.
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            _close(connection)
        self._listener.close()

    def __enter__(self) -> FakeOllama:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the server -------------------------------------------------------------------------

    def _serve(self) -> None:
        while self._running:
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._connections.add(connection)
                self.connections_opened += 1
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection: socket.socket) -> None:
        reader = _Reader(connection)
        try:
            while self._running:
                request = reader.read_request()
                if request is None:
                    return
                with self._lock:
                    self.requests.append(request)
                handler = self._handler_for(request)
                reply = handler(request) if callable(handler) else handler
                if not self._send(connection, reply):
                    return
        except OSError:
            return
        finally:
            with self._lock:
                self._connections.discard(connection)
            _close(connection)

    @staticmethod
    def _send(connection: socket.socket, reply: Reply) -> bool:
        for step in reply.steps:
            if step is None:
                return False
            if isinstance(step, float | int):
                if not _pause(connection, step):
                    return False
                continue
            connection.sendall(step)
        return reply.keep_alive


def _next_handler(
    queues: dict[Key, deque[Handler]], last_used: dict[Key, Handler], key: Key
) -> Handler | None:
    """The next queued handler for ``key``, else the last one used (it repeats)."""
    queue = queues.get(key)
    if queue:
        last_used[key] = queue.popleft()
    return last_used.get(key)


def _pause(connection: socket.socket, seconds: float) -> bool:
    """Wait, but give up early when the client hangs up (False), as Ollama cancels the work of
    a request whose client left; so ``open_connections`` shows a client's timeout or
    cancellation at once instead of after the pause."""
    deadline = time.monotonic() + seconds
    remaining = seconds
    while remaining > 0:
        try:
            readable, _, _ = select.select([connection], [], [], remaining)
        except (OSError, ValueError):  # closed by stop() meanwhile
            return False
        if readable:
            try:
                peeked = connection.recv(1, socket.MSG_PEEK)
            except OSError:
                return False
            if not peeked:
                return False
            # The client already sent its next request: nothing more to watch for, the reader
            # will pick it up after this reply.
            time.sleep(max(0.0, deadline - time.monotonic()))
            return True
        remaining = deadline - time.monotonic()
    return True


def _close(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    connection.close()


class _Reader:
    """Reads HTTP/1.1 requests (Content-Length or chunked bodies) from one connection."""

    def __init__(self, connection: socket.socket) -> None:
        self._connection = connection
        self._buffer = b""

    def _fill(self) -> bool:
        data = self._connection.recv(65536)
        if not data:
            return False
        self._buffer += data
        return True

    def _read_until(self, marker: bytes) -> bytes | None:
        while marker not in self._buffer:
            if not self._fill():
                return None
        head, _, self._buffer = self._buffer.partition(marker)
        return head

    def _read_exactly(self, size: int) -> bytes | None:
        while len(self._buffer) < size:
            if not self._fill():
                return None
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def _chunks(self) -> Iterator[bytes | None]:
        while True:
            size_line = self._read_until(b"\r\n")
            if size_line is None:
                yield None
                return
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                self._read_until(b"\r\n")
                return
            yield self._read_exactly(size)
            self._read_exactly(2)

    def read_request(self) -> RecordedRequest | None:
        head = self._read_until(b"\r\n\r\n")
        if head is None:
            return None
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, _ = request_line.split(" ", 2)
        headers: dict[str, str] = {}
        for line in header_lines:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            parts = list(self._chunks())
            if any(part is None for part in parts):
                return None
            body = b"".join(part for part in parts if part is not None)
        else:
            body = self._read_exactly(int(headers.get("content-length", "0"))) or b""
        path, _, query = target.partition("?")
        return RecordedRequest(method, path, query, headers, body)
