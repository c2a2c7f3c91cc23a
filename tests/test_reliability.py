"""Reliability: every fault ends in a documented error within a bounded time, nothing leaks,
retries stay safe, cancellation is clean and credentials never surface.

Sync and async run the same bodies (the ``mode`` fixture). The fake server is real sockets on
loopback; nothing here resolves or contacts another address (the DNS test patches the resolver).
``tests/test_client.py`` already checks the messages of the basic stream faults; the matrix here
checks what every fault must share: the error type, the time it takes, that no library exception
travels with it, that the connection is not leaked and that the client keeps working.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import gzip
import inspect
import json
import logging
import os
import random
import socket
import time
import traceback
import tracemalloc
import warnings
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import pydantic
import pytest

import ollamakit
import ollamakit._http as http_module
import ollamakit._http._attempts as attempts_module
from ollamakit import (
    AsyncClient,
    AuthenticationError,
    Client,
    ConnectionError,
    IncompleteStreamError,
    InternalServerError,
    OllamaError,
    ParseError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitError,
    RequestError,
    ServerBusyError,
    StreamError,
    TimeoutError,
)
from ollamakit._errors import parse_retry_after
from ollamakit._stream import RecordDecoder
from ollamakit.testing import FakeOllama, RecordedRequest, Reply, chat_stream
from support import Api

pytestmark = pytest.mark.anyio

CHAT_REPLY = {
    "model": "m",
    "created_at": "2025-10-26T17:15:24.097767123Z",
    "message": {"role": "assistant", "content": "fine"},
    "done": True,
    "done_reason": "stop",
}
FIRST_RECORD = (json.dumps(chat_stream(["a"])[0]) + "\n").encode()
NDJSON_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"
)
PROXY_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n"
    "</body>\r\n</html>\r\n"
)
# Modules whose exceptions may appear in an error's chain: ours, and plain values such as the
# StopAsyncIteration that ended a stream. No HTTP library: their exceptions hold the request.
HARMLESS_MODULES = {"ollamakit._errors", "builtins", "msgspec"}


# -- helpers ---------------------------------------------------------------------------------


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """The block, whatever it raises, must end within ``seconds``."""
    started = time.monotonic()
    try:
        yield
    finally:
        elapsed = time.monotonic() - started
        assert elapsed < seconds, f"took {elapsed:.2f}s, bound {seconds}s"


async def eventually(condition: Callable[[], bool], seconds: float = 3.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await anyio.sleep(0.01)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def error_chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or any(current is known for known in seen):
            continue
        seen.append(current)
        pending += [current.__cause__, current.__context__]
    return seen


def assert_clean_error(exc: BaseException) -> None:
    """Ours, with no HTTP library exception attached to it."""
    assert isinstance(exc, OllamaError), repr(exc)
    modules = {type(link).__module__ for link in error_chain(exc)}
    assert modules <= HARMLESS_MODULES, modules


def with_pause(reply: Reply, after_step: int, seconds: float) -> Reply:
    """``reply`` with a stall inserted after its first ``after_step`` steps."""
    steps = list(reply.steps)
    return Reply([*steps[:after_step], seconds, *steps[after_step:]], reply.keep_alive)


def dead_url() -> str:
    with FakeOllama() as fake:
        return fake.url  # a port that was just free and is now closed


def full_listener() -> tuple[socket.socket, list[socket.socket]]:
    """A loopback listener whose accept queue is full, so that a new connect stalls."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    held: list[socket.socket] = []
    for _ in range(4):
        probe = socket.socket()
        probe.settimeout(0.3)
        try:
            probe.connect(listener.getsockname())
        except OSError:
            probe.close()
            return listener, held
        held.append(probe)
    for sock in [listener, *held]:
        sock.close()
    pytest.skip("this kernel accepts connections beyond the listen backlog")


async def drain(api: Api, stream: Any) -> list[Any]:
    return await api.collect(stream)


# -- the fault matrix --------------------------------------------------------------------------

FAULTS: list[tuple[str, Reply, bool, type[OllamaError]]] = [
    ("hang-up before answering", Reply.hang_up(), False, ProtocolError),
    ("hang-up before answering, stream", Reply.hang_up(), True, ProtocolError),
    (
        "closed mid-body",
        Reply.raw(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n"
            b'{"model":"m","mess'
        ),
        False,
        ProtocolError,
    ),
    (
        "closed mid-stream",
        Reply.ndjson(chat_stream(["a", "b"])[:2], complete=False),
        True,
        IncompleteStreamError,
    ),
    ("stream without done", Reply.ndjson(chat_stream(["a"])[:-1]), True, IncompleteStreamError),
    (
        "error line mid-stream",
        Reply.ndjson([FIRST_RECORD, {"error": "model runner has unexpectedly stopped"}]),
        True,
        StreamError,
    ),
    ("malformed JSON line", Reply.ndjson([FIRST_RECORD, b'{"model": "m", oops}\n']), True,
     ProtocolError),
    ("invalid chunk size", Reply.raw(NDJSON_HEAD + b"zz\r\n" + FIRST_RECORD + b"\r\n0\r\n\r\n"),
     True, ProtocolError),
    ("chunk longer than declared",
     Reply.raw(NDJSON_HEAD + b"4\r\n" + FIRST_RECORD + b"\r\n0\r\n\r\n"), True, ProtocolError),
    ("chunk cut short", Reply.raw(NDJSON_HEAD + b"400\r\n" + FIRST_RECORD), True, ProtocolError),
    ("garbage status line", Reply.raw(b"SSH-2.0-OpenSSH_9.6\r\n\r\n"), False, ProtocolError),
    ("garbage status line, stream", Reply.raw(b"SSH-2.0-OpenSSH_9.6\r\n\r\n"), True,
     ProtocolError),
    ("HTML 502 from a proxy", Reply.body(PROXY_502, 502, "text/html"), False,
     InternalServerError),
    ("HTML 502 from a proxy, stream", Reply.body(PROXY_502, 502, "text/html"), True,
     InternalServerError),
    ("500 with a non-JSON body, stream", Reply.body("upstream exploded", 500), True,
     InternalServerError),
    ("empty 200 body", Reply.empty(), False, ProtocolError),
    ("empty 200 body, stream", Reply.body(b"", 200, "application/x-ndjson"), True,
     IncompleteStreamError),
    ("HTML 200 page", Reply.body("<html>Sign in to the Wi-Fi</html>", 200, "text/html"), False,
     ProtocolError),
    ("HTML 200 page, stream", Reply.body("<html>Sign in</html>", 200, "text/html"), True,
     ProtocolError),
    ("stalled mid-stream", with_pause(Reply.ndjson(chat_stream(["a", "b"])), 2, 8.0), True,
     TimeoutError),
]  # fmt: skip


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    ("reply", "stream", "expected"),
    [pytest.param(reply, stream, expected, id=name) for name, reply, stream, expected in FAULTS],
)
async def test_fault_matrix(
    mode: str, server: FakeOllama, reply: Reply, stream: bool, expected: type[OllamaError]
) -> None:
    server.expect("POST", "/api/chat", reply, Reply.json(CHAT_REPLY))
    api = Api(mode, server.url, timeout=1.0, retries=2)
    with within(4.0), pytest.raises(expected) as info:
        result = await api("chat", "m", [{"role": "user", "content": "hi"}], stream=stream)
        if stream:
            await drain(api, result)
    assert_clean_error(info.value)
    if isinstance(info.value, InternalServerError):
        assert info.value.status_code in (500, 502)
        assert "Bad Gateway" in info.value.body or "exploded" in info.value.body
    # Only 429/503 are retried, and nothing after the first byte: the fault was seen once.
    assert len(server.requests) == 1
    # The same client carries on, and the failed exchange left at most one idle connection.
    with within(3.0):
        assert (await api("chat", "m", [])).message.content == "fine"
    await eventually(lambda: server.open_connections <= 1)
    await api.aclose()
    await eventually(lambda: server.open_connections == 0)


@pytest.mark.timeout(60)
async def test_repeated_faults_do_not_leak_descriptors(mode: str, server: FakeOllama) -> None:
    faulty = [reply for name, reply, _, _ in FAULTS if not name.startswith("stalled")]
    api = Api(mode, server.url, timeout=2.0)
    await api("version")
    before = open_fds()
    with within(30.0):
        for _ in range(5):
            for reply in faulty:
                server.expect("POST", "/api/chat", reply)
                with pytest.raises(OllamaError):
                    await drain(api, await api("chat", "m", [], stream=True))
    await eventually(lambda: server.open_connections <= 1)
    assert open_fds() <= before + 2
    await api.aclose()


# -- unreachable servers -----------------------------------------------------------------------


@pytest.mark.timeout(20)
async def test_connection_refused_with_retries(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[tuple[int, float | None]] = []

    def fast_delay(attempt: int, retry_after: float | None) -> float:
        attempts.append((attempt, retry_after))
        return 0.01

    monkeypatch.setattr(attempts_module, "retry_delay", fast_delay)
    api = Api(mode, dead_url(), retries=3)
    for stream in (False, True):
        attempts.clear()
        with within(3.0), pytest.raises(ConnectionError, match="Failed to connect") as info:
            await api("chat", "m", [], stream=stream)
        assert_clean_error(info.value)
        assert attempts == [(0, None), (1, None), (2, None)]
    await api.aclose()


def _resolver_without_invalid(
    real: Callable[..., Any], looked_up: list[str] | None = None
) -> Callable[..., Any]:
    """``socket.getaddrinfo`` that fails for ``.invalid`` names without asking anyone.

    Such names never resolve (RFC 6761), but the system resolver would still send the query
    to the configured name server: answering here keeps the test off the network.
    """

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name.rstrip(".").endswith(".invalid"):
            if looked_up is not None:
                looked_up.append(name)
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    return getaddrinfo


@pytest.mark.timeout(20)
async def test_dns_failure_is_a_connection_error(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up: list[str] = []
    monkeypatch.setattr(
        socket, "getaddrinfo", _resolver_without_invalid(socket.getaddrinfo, looked_up)
    )
    api = Api(mode, "http://no-such-host.invalid:11434")
    for stream in (False, True):
        with within(3.0), pytest.raises(ConnectionError) as info:
            await api("chat", "m", [], stream=stream)
        assert_clean_error(info.value)
        assert "no-such-host.invalid" in str(info.value)
    assert looked_up and set(looked_up) == {"no-such-host.invalid"}
    await api.aclose()


@pytest.mark.timeout(20)
async def test_connect_timeout(mode: str) -> None:
    listener, held = full_listener()
    host, port = listener.getsockname()
    api = Api(mode, f"http://{host}:{port}", timeout=0.5)
    try:
        with within(3.0), pytest.raises(TimeoutError, match="connect") as info:
            await api("list")
        assert_clean_error(info.value)
    finally:
        await api.aclose()
        for sock in [listener, *held]:
            sock.close()


# -- timeouts are per chunk ----------------------------------------------------------------------


@pytest.mark.timeout(20)
async def test_read_timeout_is_between_chunks_not_overall(mode: str, server: FakeOllama) -> None:
    server.expect("POST", "/api/chat", Reply.ndjson(chat_stream(["a", "b", "c", "d"]), delay=0.3))
    api = Api(mode, server.url, timeout=0.8)
    started = time.monotonic()
    final = await api.final(await api("chat", "m", [], stream=True))
    assert final.message.content == "abcd"
    assert time.monotonic() - started > 1.2  # longer than the timeout, fine: chunks kept coming
    await api.aclose()


@pytest.mark.timeout(20)
async def test_stall_releases_the_connection_and_is_not_retried(
    mode: str, server: FakeOllama
) -> None:
    server.expect("POST", "/api/chat", with_pause(Reply.ndjson(chat_stream(["a", "b"])), 2, 10.0))
    server.expect("POST", "/api/generate", Reply.json({"response": "x", "done": True}).after(10.0))
    api = Api(mode, server.url, timeout=0.5, retries=3)
    stream = await api("chat", "m", [], stream=True)
    with within(2.0), pytest.raises(TimeoutError) as info:
        await drain(api, stream)
    assert isinstance(info.value, TimeoutError) and "read timeout" in str(info.value)
    with within(2.0), pytest.raises(TimeoutError):
        await api("generate", "m", "x")  # the request reached the server: never repeated
    assert [r.path for r in server.requests] == ["/api/chat", "/api/generate"]
    await eventually(lambda: server.open_connections == 0, 2.0)
    await api.aclose()


def _drip(body: bytes, every: float) -> Reply:
    """A JSON answer whose body comes one byte every ``every`` seconds."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    steps: list[Any] = [head % len(body)]
    for byte in body:
        steps += [every, bytes([byte])]
    return Reply(steps)


@pytest.mark.timeout(20)
async def test_a_numeric_timeout_bounds_the_whole_call(mode: str, server: FakeOllama) -> None:
    server.expect("GET", "/api/tags", _drip(b'{"models": []}', 0.1))  # 1.4 s in all
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n"
    server.expect("GET", "/api/ps", Reply([head, 10.0, b'{"models": []}']))
    api = Api(mode, server.url, timeout=1.0)
    # A byte every 0.1 s never trips the read timeout, but the call as a whole ends.
    with within(1.6), pytest.raises(TimeoutError, match="within its timeout of 1 s") as info:
        await api("list")
    assert_clean_error(info.value)
    # Headers at once, then a stall: the read timeout is what is left of the call's.
    started = time.monotonic()
    with within(1.6), pytest.raises(TimeoutError):
        await api("ps", timeout=0.5)
    assert time.monotonic() - started >= 0.45
    await eventually(lambda: server.open_connections == 0, 2.0)
    await api.aclose()
    # An httpx.Timeout keeps per-phase limits: the dripping answer arrives.
    api = Api(mode, server.url, timeout=httpx.Timeout(1.0))
    assert (await api("list")).models == []
    await api.aclose()


@pytest.mark.timeout(20)
async def test_retry_waits_count_against_the_timeout(mode: str, server: FakeOllama) -> None:
    server.expect(
        "POST",
        "/api/generate",
        Reply.error("busy", 503, {"Retry-After": "999999"}),
        Reply.error("busy", 503, {"Retry-After": "2"}),
        Reply.error("busy", 503, {"Retry-After": "0.3"}),
        Reply.json({"model": "m", "response": "ok", "done": True}),
    )
    api = Api(mode, server.url, retries=2, timeout=5)
    # Longer than any wait we would make: raised at once, for the caller to decide.
    with within(1.0), pytest.raises(ServerBusyError) as info:
        await api("generate", "m", "x")
    assert info.value.retry_after == 999999
    # Would end past the call's deadline (1 s): raised at once.
    with within(0.8), pytest.raises(ServerBusyError) as info:
        await api("generate", "m", "x", timeout=1)
    assert info.value.retry_after == 2
    # Fits: waited for, then retried.
    with within(2.0):
        assert (await api("generate", "m", "x", timeout=3)).response == "ok"
    assert len(server.requests) == 4
    await api.aclose()


@pytest.mark.timeout(20)
async def test_connect_retries_stop_at_the_deadline(mode: str) -> None:
    api = Api(mode, dead_url(), retries=50, timeout=1.5)
    with within(2.5), pytest.raises(ConnectionError):
        await api("list")  # backoff 0.25-0.5, 0.5-1 s: the next wait would end too late
    await api.aclose()


# -- large records ---------------------------------------------------------------------------


def _split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("piece", [None, 512], ids=["one-chunk", "512-byte-chunks"])
async def test_ten_megabyte_line(mode: str, server: FakeOllama, piece: int | None) -> None:
    big = "x" * (10 * 1024 * 1024)
    records = chat_stream(["a", big, "b"])
    if piece is None:
        body: list[Any] = records
    else:
        line = (json.dumps(records[1]) + "\n").encode()
        body = [records[0], *_split(line, piece), *records[2:]]
    server.expect("POST", "/api/chat", Reply.ndjson(body))
    server.expect("POST", "/api/generate", Reply.json({"response": big, "done": True}))
    api = Api(mode, server.url, timeout=10)
    with within(10.0):  # the fake server needs most of it to send 20,000 chunks
        final = await api.final(await api("chat", "m", [], stream=True))
    assert final.message.content == "a" + big + "b"
    with within(5.0):
        assert (await api("generate", "m", "x")).response == big
    await api.aclose()


@pytest.mark.timeout(30)
def test_a_long_line_in_small_pieces_decodes_in_linear_time() -> None:
    big = "y" * (10 * 1024 * 1024)
    line = (json.dumps(chat_stream([big])[0]) + "\n").encode()
    decoder = RecordDecoder(ollamakit.ChatResponse)
    with within(3.0):  # 10,240 pieces; joining on every piece would copy about 50 GB
        items = [item for part in _split(line, 1024) for item in decoder.feed(part)]
    assert [item.message.content for item in items] == [big]


# -- content types -------------------------------------------------------------------------------


@pytest.mark.timeout(20)
async def test_content_type_is_not_trusted_the_body_is(mode: str, server: FakeOllama) -> None:
    as_html = Reply.body(json.dumps(CHAT_REPLY), 200, "text/html; charset=utf-8")
    server.expect("POST", "/api/chat", as_html, as_html)
    api = Api(mode, server.url, timeout=5)
    assert (await api("chat", "m", [])).message.content == "fine"
    # A server that ignores stream=true and answers one JSON document still makes a stream.
    chunks = await drain(api, await api("chat", "m", [], stream=True))
    assert [c.message.content for c in chunks] == ["fine"]
    await api.aclose()


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("list", "/api/tags", b'{"models": 5, "x"'),
        ("ps", "/api/ps", b'{"models": "none", "x": '),
        ("version", "/api/version", b'{"version": 7, "x'),
        ("show", "/api/show", b'{"details": [], "license": ]'),
    ],
)
async def test_malformed_json_after_a_wrongly_typed_field(
    mode: str, server: FakeOllama, method: str, path: str, body: bytes
) -> None:
    # The typed decoder stops at the wrong type; the untyped one then meets the syntax error.
    server.expect(
        "GET" if path != "/api/show" else "POST", path, Reply.body(body, 200, "application/json")
    )
    api = Api(mode, server.url, timeout=5)
    with pytest.raises(ProtocolError, match="malformed JSON") as info:
        await (api(method, "m") if method == "show" else api(method))
    assert info.value.__cause__ is None and info.value.__context__ is None
    await api.aclose()


@pytest.mark.timeout(20)
async def test_a_known_field_of_the_wrong_shape_is_a_protocol_error(
    mode: str, server: FakeOllama
) -> None:
    server.expect(
        "POST",
        "/api/chat",
        Reply.json({**CHAT_REPLY, "message": "fine"}),
        Reply.ndjson([{**CHAT_REPLY, "done": False, "message": {"role": "assistant",
                                                                  "content": 5}}]),
    )  # fmt: skip
    api = Api(mode, server.url, timeout=5)
    with pytest.raises(ProtocolError, match="'message' as \"fine\", where an object"):
        await api("chat", "m", [])
    with pytest.raises(ProtocolError, match="'content' as 5, where a string"):
        await drain(api, await api("chat", "m", [], stream=True))
    await api.aclose()


RECORDS = 23_000  # measured from record 1,000 to 24,000: the same point of a 1,000-record chunk


@pytest.mark.timeout(60)
@pytest.mark.parametrize("content", ["a", ""], ids=["one-character-tokens", "empty-records"])
async def test_an_endless_stream_keeps_only_the_merged_text(
    mode: str, server: FakeOllama, content: str
) -> None:
    # A stream that never says done: what it keeps must not grow with the number of records
    # beyond the text final() would return (here, one byte per record at most).
    record = json.dumps({**chat_stream([])[0], "message": {"role": "assistant",
                                                            "content": content}})  # fmt: skip
    batch = ((record + "\n") * 1000).encode()
    chunk = b"%x\r\n%s\r\n" % (len(batch), batch)
    server.expect("POST", "/api/chat", Reply.raw(NDJSON_HEAD + chunk * 25))
    api = Api(mode, server.url, timeout=30)
    tracemalloc.start()
    try:
        stream = await api("chat", "m", [], stream=True)
        for _ in range(1000):
            await api.collect_one(stream)
        before = tracemalloc.get_traced_memory()[0]  # at the same point of a batch as below
        for _ in range(RECORDS):
            await api.collect_one(stream)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # The text itself, plus a little for buffers (a list of the pieces would be 1.3 MB).
    assert grown < RECORDS * len(content) + 64 * 1024, f"{grown / RECORDS:.1f} bytes per record"
    with pytest.raises(IncompleteStreamError):
        await drain(api, stream)
    await api.aclose()


# -- compressed answers ----------------------------------------------------------------------------


def _compressed_stream(records: list[bytes], encoding: str, pause: float = 0.0) -> Reply:
    """NDJSON as a compressing proxy sends it: one compressed, flushed HTTP chunk per record."""
    if encoding == "gzip":
        compressor = zlib.compressobj(wbits=zlib.MAX_WBITS | 16)
    else:
        compressor = zlib.compressobj()
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"
        + f"Content-Encoding: {encoding}\r\n".encode()
        + b"Transfer-Encoding: chunked\r\n\r\n"
    )
    steps: list[Any] = [head]
    for index, record in enumerate(records):
        data = compressor.compress(record) + compressor.flush(zlib.Z_SYNC_FLUSH)
        if index == 1 and pause:
            steps.append(pause)
        steps.append(b"%x\r\n%s\r\n" % (len(data), data))
    tail = compressor.flush()
    steps.append(b"%x\r\n%s\r\n0\r\n\r\n" % (len(tail), tail))
    return Reply(steps)


@pytest.mark.timeout(20)
@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_compressed_stream_is_decoded_as_it_arrives(
    mode: str, server: FakeOllama, encoding: str
) -> None:
    records = [(json.dumps(r) + "\n").encode() for r in chat_stream(["Hel", "lo", "!"])]
    server.expect("POST", "/api/chat", _compressed_stream(records, encoding, pause=0.6))
    server.expect("GET", "/api/tags", Reply.body(gzip.compress(b'{"models": []}'), 200,
                                                 headers={"Content-Encoding": "gzip"}))  # fmt: skip
    api = Api(mode, server.url, timeout=5)
    stream = await api("chat", "m", [], stream=True)
    started = time.monotonic()
    first = await api.collect_one(stream)
    assert time.monotonic() - started < 0.5  # the first record, before the pause
    assert first.message.content == "Hel"
    rest = await drain(api, stream)
    assert "".join(c.message.content for c in rest) == "lo!"
    assert (await api("list")).models == []
    assert server.requests[0].headers["accept-encoding"] == "gzip, deflate"
    await api.aclose()


def _gzip_bomb(mebibytes: int) -> bytes:
    """``mebibytes`` MiB of zeros, gzipped to about a thousandth of that."""
    compressor = zlib.compressobj(wbits=zlib.MAX_WBITS | 16)
    block = bytes(2**20)
    return b"".join(compressor.compress(block) for _ in range(mebibytes)) + compressor.flush()


@pytest.mark.timeout(30)
async def test_a_decompression_bomb_is_not_read_into_memory(
    mode: str, server: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The limit is lowered so that the test itself stays small: 64 MiB in 64 KB, limit 4 MiB.
    bomb = _gzip_bomb(64)
    monkeypatch.setattr(http_module, "MAX_DECODED_BODY", 4 * 2**20)
    server.expect("GET", "/api/tags", Reply.body(bomb, 200, "application/json",
                                                 headers={"Content-Encoding": "gzip"}))  # fmt: skip
    api = Api(mode, server.url, timeout=10)
    tracemalloc.start()
    try:
        with within(5.0), pytest.raises(ProtocolError, match="more than 4 MiB") as info:
            await api("list")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert_clean_error(info.value)
    assert peak < 8 * 2**20, f"peak {peak / 2**20:.0f} MiB"
    await api.aclose()


def test_the_limit_of_decompressed_answers_is_documented() -> None:
    assert http_module.MAX_DECODED_BODY == 256 * 2**20
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert "256 MiB" in readme


@pytest.mark.parametrize(
    ("encoding", "body", "match"),
    [("br", b"x", "encoding we did not ask for: 'br'"), ("gzip", b"not gzip", "corrupt")],
)
async def test_an_unknown_or_corrupt_encoding_is_a_protocol_error(
    mode: str, server: FakeOllama, encoding: str, body: bytes, match: str
) -> None:
    server.expect("GET", "/api/tags", Reply.body(body, 200, headers={"Content-Encoding": encoding}))
    api = Api(mode, server.url, timeout=5)
    with pytest.raises(ProtocolError, match=match) as info:
        await api("list")
    assert_clean_error(info.value)
    await api.aclose()


# -- retries -------------------------------------------------------------------------------------


def test_backoff_is_exponential_with_jitter_and_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    for attempt in range(8):
        ideal = min(attempts_module.MAX_BACKOFF, 0.5 * 2**attempt)
        delays = [attempts_module.retry_delay(attempt, None) for _ in range(200)]
        assert all(ideal / 2 <= delay <= ideal for delay in delays)
        assert len(set(delays)) > 100  # jittered, so clients do not retry in lockstep
    monkeypatch.setattr(random, "random", lambda: 1.0)
    assert [attempts_module.retry_delay(n, None) for n in range(6)] == [0.5, 1, 2, 4, 8, 8]
    assert attempts_module.retry_delay(0, 2.5) == 2.5  # the server's Retry-After wins


def test_retry_after_seconds_and_http_date() -> None:
    def parse(value: str) -> float | None:
        return parse_retry_after(value)

    assert parse("2") == 2.0
    assert parse("-5") == 0.0
    assert parse("soon") is None
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert 28 <= (parse(when) or 0) <= 30
    assert parse("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


@pytest.mark.timeout(20)
async def test_429_and_503_are_retried_honouring_retry_after(mode: str, server: FakeOllama) -> None:
    server.expect(
        "POST",
        "/api/chat",
        Reply.error("too many requests", 429, {"Retry-After": "0.2"}),
        Reply.error("server busy", 503, {"Retry-After": "0.1"}),
        Reply.ndjson(chat_stream(["ok"])),
    )
    api = Api(mode, server.url, retries=2)
    started = time.monotonic()
    final = await api.final(await api("chat", "m", [], stream=True))
    elapsed = time.monotonic() - started
    assert final.message.content == "ok"
    assert len(server.requests) == 3
    assert 0.3 <= elapsed < 2.0
    await api.aclose()


@pytest.mark.timeout(20)
async def test_retries_give_up_with_the_last_answer(mode: str, server: FakeOllama) -> None:
    server.expect("POST", "/api/generate", Reply.error("busy", 503, {"Retry-After": "0"}))
    server.expect("POST", "/api/chat", Reply.error("slow down", 429, {"Retry-After": "0"}))
    api = Api(mode, server.url, retries=2)
    with within(2.0), pytest.raises(ServerBusyError) as busy:
        await api("generate", "m", "x")
    assert busy.value.retry_after == 0.0
    assert_clean_error(busy.value)
    with within(2.0), pytest.raises(RateLimitError):
        await api("chat", "m", [], stream=True)
    assert [r.path for r in server.requests] == ["/api/generate"] * 3 + ["/api/chat"] * 3
    await api.aclose()


@pytest.mark.timeout(20)
async def test_no_retries_unless_asked_and_never_for_500(mode: str, server: FakeOllama) -> None:
    server.expect("POST", "/api/generate", Reply.error("busy", 503, {"Retry-After": "0"}))
    server.expect("POST", "/api/chat", Reply.error("boom", 500))
    api = Api(mode, server.url)
    with pytest.raises(ServerBusyError):
        await api("generate", "m", "x")
    await api.aclose()
    api = Api(mode, server.url, retries=3)
    with pytest.raises(InternalServerError):
        await api("chat", "m", [])
    assert [r.path for r in server.requests] == ["/api/generate", "/api/chat"]
    await api.aclose()


@pytest.mark.timeout(20)
async def test_a_stream_is_never_retried_after_its_first_byte(
    mode: str, server: FakeOllama
) -> None:
    cut = Reply.ndjson(chat_stream(["a", "b", "c"])[:2], complete=False)
    server.expect("POST", "/api/chat", cut, Reply.ndjson(chat_stream(["never"])))
    api = Api(mode, server.url, retries=5)
    stream = await api("chat", "m", [], stream=True)
    with within(2.0), pytest.raises(IncompleteStreamError):
        await drain(api, stream)
    assert len(server.requests) == 1
    await api.aclose()


@pytest.mark.timeout(20)
async def test_a_body_that_cannot_be_replayed_is_not_retried(
    mode: str, server: FakeOllama, tmp_path: Path
) -> None:
    blob = tmp_path / "weights.bin"
    blob.write_bytes(os.urandom(3 * 1024 * 1024))
    server.expect("HEAD", f"/api/blobs/{_digest(blob)}", Reply.empty(404))
    server.expect(
        "POST", f"/api/blobs/{_digest(blob)}", Reply.error("busy", 503, {"Retry-After": "0"})
    )
    api = Api(mode, server.url, retries=2)
    # The upload streams the file, so a second attempt would have nothing left to send.
    with within(5.0), pytest.raises(ServerBusyError) as info:
        await api("create_blob", blob)
    assert_clean_error(info.value)
    assert [r.method for r in server.requests] == ["HEAD", "POST"]
    await api.aclose()


def _digest(path: Path) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.timeout(20)
async def test_a_keep_alive_connection_closed_by_the_server_is_not_an_error(
    mode: str, server: FakeOllama
) -> None:
    # Answers, then closes without saying so: the next request may race with the close.
    body = b'{"version":"0.33.0"}'
    closing = Reply.raw(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
        % (len(body), body)
    )
    server.expect("GET", "/api/version", closing)
    api = Api(mode, server.url)
    with within(10.0):
        for _ in range(40):
            assert (await api("version")).version == "0.33.0"
    await api.aclose()


# -- redirects -----------------------------------------------------------------------------------


def test_httpx_still_offers_the_private_redirect_builder() -> None:
    """The sync fast path (a request to a local server skips httpx's send chain: a fifth of the
    client's CPU time on a small round trip, benchmarks/bench_fast_path.py) continues a
    redirect answer with httpx's private ``Client._build_redirect_request``, so that the
    request is not sent twice and httpx's redirect rules still apply. If an httpx upgrade
    removes or changes it, the fast path turns itself off and this test fails, to be looked
    at."""
    build = getattr(httpx.Client, "_build_redirect_request", None)
    assert callable(build), "httpx.Client._build_redirect_request is gone"
    assert list(inspect.signature(build).parameters) == ["self", "request", "response"]
    with httpx.Client() as client:
        request = client.build_request(
            "POST", "http://one.test/api/chat", headers={"Authorization": "Bearer k"}, content=b"{}"
        )
        answer = httpx.Response(303, headers={"Location": "http://two.test/v2"}, request=request)
        following = build(client, request, answer)
        assert (following.method, str(following.url)) == ("GET", "http://two.test/v2")
        assert "authorization" not in following.headers  # another origin: no credentials
    with Client("http://127.0.0.1:9") as kit:
        assert kit._http._direct  # so the fast path is on


@pytest.fixture
def other_server() -> Iterator[FakeOllama]:
    with FakeOllama() as fake:
        yield fake


@pytest.mark.timeout(20)
@pytest.mark.parametrize("credential", ["headers", "env", "url"])
async def test_redirect_to_another_host_drops_credentials(
    mode: str,
    server: FakeOllama,
    other_server: FakeOllama,
    credential: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Another port *and* another name: 127.0.0.1 here, localhost there.
    target = f"http://localhost:{other_server.port}/api/chat"
    server.expect("POST", "/api/chat", Reply.redirect(target, 307))
    other_server.expect("POST", "/api/chat", Reply.json(CHAT_REPLY))
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    host, kwargs = server.url, {}
    if credential == "headers":
        kwargs = {"headers": {"Authorization": "Bearer sk-redirect-secret"}}
    elif credential == "env":
        monkeypatch.setenv("OLLAMA_API_KEY", "sk-redirect-secret")
    else:
        host = f"http://user:pw-redirect-secret@127.0.0.1:{server.port}"
    api = Api(mode, host, **kwargs)
    response = await api("chat", "m", [{"role": "user", "content": "hi"}])
    assert response.message.content == "fine"
    assert "authorization" in server.requests[0].headers
    moved = other_server.requests[0]
    assert "authorization" not in moved.headers
    assert moved.headers["host"] == f"localhost:{other_server.port}"
    assert moved.json()["messages"] == [{"role": "user", "content": "hi"}]  # 307 keeps the body
    await api.aclose()


@pytest.mark.timeout(20)
async def test_what_counts_as_another_host(
    mode: str, server: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    # httpx compares scheme, host name and port as written; it resolves nothing. A new path on
    # the same origin keeps the credentials, the same server under another name does not.
    monkeypatch.setenv("OLLAMA_API_KEY", "sk-origin-secret")
    server.expect("POST", "/api/chat", Reply.redirect("/v2/api/chat", 308))
    server.expect("POST", "/v2/api/chat", Reply.redirect(f"http://localhost:{server.port}/v3"))
    server.expect("POST", "/v3", Reply.json(CHAT_REPLY))
    api = Api(mode, server.url)
    assert (await api("chat", "m", [])).message.content == "fine"
    auth = [(r.path, r.headers.get("authorization")) for r in server.requests]
    assert auth == [
        ("/api/chat", "Bearer sk-origin-secret"),
        ("/v2/api/chat", "Bearer sk-origin-secret"),
        ("/v3", None),
    ]
    await api.aclose()


# -- abandoned streams -------------------------------------------------------------------------


@contextmanager
def no_garbage_collector() -> Iterator[None]:
    # Only reference counting may release connections: the collector runs at arbitrary times
    # and would hide a stream kept alive by a reference cycle.
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


async def _abandon(api: Api, style: str) -> None:
    stream = await api("chat", "m", [], stream=True)
    if style == "break":
        if api.mode == "sync":
            for _ in stream:
                break
        else:
            async for _ in stream:
                break
    elif style == "drop after one chunk":
        if api.mode == "sync":
            next(stream)
        else:
            await stream.__anext__()
    elif style == "close":
        await api.close_stream(stream)
    # "drop unread": nothing at all


@pytest.mark.timeout(60)
@pytest.mark.parametrize("style", ["break", "drop after one chunk", "drop unread", "close"])
async def test_abandoned_streams_release_their_connection(
    mode: str, server: FakeOllama, style: str
) -> None:
    server.expect("POST", "/api/chat", Reply.ndjson(chat_stream(["tok"] * 400), delay=0.005))
    api = Api(mode, server.url)
    await api("version")
    before = open_fds()
    with no_garbage_collector(), within(30.0):
        for _ in range(40):
            await _abandon(api, style)
            # Released at once, not when the server would have finished (2 s away).
            await eventually(lambda: server.open_connections == 0, 1.5)
    assert open_fds() <= before + 1
    assert len(server.requests) == 41
    await api.aclose()


@pytest.mark.timeout(60)
async def test_closing_a_client_closes_its_connections(mode: str, server: FakeOllama) -> None:
    server.expect("POST", "/api/chat", Reply.ndjson(chat_stream(["a"])))
    before = open_fds()
    with no_garbage_collector(), within(20.0):
        for _ in range(20):
            api = Api(mode, server.url)
            await api("version")
            await drain(api, await api("chat", "m", [], stream=True))
            assert server.open_connections == 1  # kept alive for the next call
            await api.aclose()
            await eventually(lambda: server.open_connections == 0, 1.0)
    assert open_fds() <= before + 1


@pytest.mark.timeout(60)
async def test_finished_streams_reuse_one_connection(mode: str, server: FakeOllama) -> None:
    server.expect("POST", "/api/chat", Reply.ndjson(chat_stream(["a", "b"])))
    api = Api(mode, server.url)
    await drain(api, await api("chat", "m", [], stream=True))
    before = open_fds()
    with no_garbage_collector():
        for _ in range(50):
            await drain(api, await api("chat", "m", [], stream=True))
    assert open_fds() <= before + 1
    assert server.connections_opened == 1
    await api.aclose()


# -- asyncio cancellation ----------------------------------------------------------------------


@contextmanager
def strict_event_loop() -> Iterator[list[Any]]:
    """Debug mode on (aiohttp then reports unclosed responses) and every warning or loop error
    collected, for the caller to assert there were none."""
    loop = asyncio.get_running_loop()
    problems: list[Any] = []
    previous_handler = loop.get_exception_handler()
    previous_debug = loop.get_debug()
    loop.set_exception_handler(lambda _loop, context: problems.append(context))
    loop.set_debug(True)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield problems
            gc.collect()
        problems += caught
    finally:
        loop.set_debug(previous_debug)
        loop.set_exception_handler(previous_handler)


@pytest.mark.timeout(30)
async def test_cancelling_a_task_mid_stream(server: FakeOllama) -> None:
    server.expect("POST", "/api/chat", Reply.ndjson(chat_stream(["tok"] * 1000), delay=0.005))
    client = AsyncClient(server.url)

    async def consume(streams: list[Any], three_chunks: asyncio.Event) -> None:
        stream = await client.chat("m", [], stream=True)
        streams.append(stream)
        received = 0
        async for _ in stream:
            received += 1
            if received == 3:
                three_chunks.set()

    with strict_event_loop() as problems:
        for _ in range(10):
            streams: list[Any] = []
            three = asyncio.Event()
            task = asyncio.create_task(consume(streams, three))
            await asyncio.wait_for(three.wait(), 5)
            with within(1.0):
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
            assert task.cancelled()
            assert streams[0].response.is_closed
            await eventually(lambda: server.open_connections == 0, 1.0)
        await client.close()
    assert problems == []


@pytest.mark.timeout(30)
async def test_cancelling_before_the_answer_and_wait_for(server: FakeOllama) -> None:
    server.expect("POST", "/api/generate", Reply.json({"response": "x", "done": True}).after(10))
    server.expect("POST", "/api/chat", Reply.ndjson(chat_stream(["t"] * 1000), delay=0.01))
    client = AsyncClient(server.url)
    with strict_event_loop() as problems:
        task = asyncio.create_task(client.generate("m", "x"))
        await eventually(lambda: len(server.requests) == 1)
        with within(1.0):
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        await eventually(lambda: server.open_connections == 0, 1.0)

        async def read_all() -> None:
            async for _ in await client.chat("m", [], stream=True):
                pass

        with within(2.0), pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(read_all(), 0.3)
        await eventually(lambda: server.open_connections == 0, 1.0)
        # The client is still usable afterwards.
        server.expect("POST", "/api/generate", Reply.json({"response": "y", "done": True}))
        assert (await client.generate("m", "x")).response == "y"
        await client.close()
    assert problems == []


# -- secrets -------------------------------------------------------------------------------------

ENV_KEY = "sk-env-7f3a9c1e5b2d"
HEADER_KEY = "sk-hdr-2d8e4b6a0c1f"
PASSWORD = "pw-9c1e5b7f3a4d"
SECRETS = (ENV_KEY, HEADER_KEY, PASSWORD)
BASIC_PASSWORD = base64.b64encode(f"ollama:{PASSWORD}".encode()).decode()


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []
        self.names: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        self.names.add(record.name.split(".")[0])


@pytest.fixture
def all_logs() -> Iterator[_Collect]:
    handler = _Collect()
    names = ["", "httpx", "httpcore", "urllib3", "aiohttp", "asyncio", "ollamakit"]
    loggers = [logging.getLogger(name) for name in names]
    saved = [(lg.level, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.propagate = False
        lg.addHandler(handler)
    try:
        yield handler
    finally:
        for lg, (level, propagate) in zip(loggers, saved):
            lg.removeHandler(handler)
            lg.setLevel(level)
            lg.propagate = propagate


def assert_no_secret(text: str, where: str) -> None:
    for secret in (*SECRETS, BASIC_PASSWORD):
        assert secret not in text, f"{where} shows a secret: {text[:300]!r}"


def assert_error_keeps_secrets(exc: BaseException) -> None:
    for link in error_chain(exc):
        assert_no_secret(repr(link), f"repr of chained {type(link).__name__}")
        assert_no_secret(str(link), f"str of chained {type(link).__name__}")
        assert_no_secret(repr(link.args), f"args of chained {type(link).__name__}")
        assert_no_secret(repr(vars(link)), f"attributes of chained {type(link).__name__}")
    assert_no_secret("".join(traceback.format_exception(exc)), "the formatted traceback")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("transport", ["fast", "httpx"])
@pytest.mark.parametrize("credential", ["env", "headers", "url"])
async def test_credentials_stay_out_of_reprs_errors_and_logs(
    mode: str,
    server: FakeOllama,
    other_server: FakeOllama,
    transport: str,
    credential: str,
    all_logs: _Collect,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", ENV_KEY)
    kwargs: dict[str, Any] = {"timeout": 1.0}
    if transport == "httpx":
        kwargs["limits"] = httpx.Limits()  # any transport option selects httpx's own transport
    host = server.url
    if credential == "headers":
        kwargs["headers"] = {"Authorization": f"Bearer {HEADER_KEY}"}
    elif credential == "url":
        host = f"http://ollama:{PASSWORD}@127.0.0.1:{server.port}"
    server.expect(
        "POST",
        "/api/chat",
        Reply.ndjson(chat_stream(["ok"])),
        Reply.error("unauthorized", 401),
        Reply.ndjson([FIRST_RECORD, {"error": "runner crashed"}]),
        Reply.raw(NDJSON_HEAD + b"zz\r\n" + FIRST_RECORD + b"\r\n0\r\n\r\n"),
        Reply.raw(b"SSH-2.0-OpenSSH_9.6\r\n\r\n"),
        Reply.ndjson(chat_stream(["a"])[:1], complete=False),
        with_pause(Reply.ndjson(chat_stream(["a"])), 2, 5.0),
        Reply.body(PROXY_502, 502, "text/html"),
        Reply.redirect(f"http://localhost:{other_server.port}/api/chat"),
    )
    other_server.expect("POST", "/api/chat", Reply.ndjson(chat_stream(["moved"])))
    api = Api(mode, host, **kwargs)
    shown: list[str] = [repr(api.client), str(api.client), repr(api.client._http)]
    errors: list[BaseException] = []
    for _ in range(9):
        try:
            stream = await api("chat", "m", [], stream=True)
            shown += [repr(stream), repr(stream.response), repr(stream.response.request)]
            shown.append(repr(stream.response.request.headers))
            await drain(api, stream)
        except OllamaError as exc:
            errors.append(exc)
    assert server.requests[0].headers["authorization"]  # the credential was in use
    shown += [repr(request) for request in server.requests]
    monkeypatch.setattr(socket, "getaddrinfo", _resolver_without_invalid(socket.getaddrinfo))
    unreachable = [
        Api(mode, dead_url(), **kwargs),
        Api(mode, "http://no-such-host.invalid:11434", **kwargs),
    ]
    for other in unreachable:
        try:
            await other("list")
        except OllamaError as exc:
            errors.append(exc)
        await other.aclose()
    await api.aclose()

    # 401, error line, bad framing, garbage status, cut, stall, 502; refused, unresolvable
    assert len(errors) == 9
    for error in errors:
        assert_error_keeps_secrets(error)
    for text in shown:
        assert_no_secret(text, "a repr")
    for line in all_logs.lines:
        assert_no_secret(line, "a log record")
    # The capture works: httpx logs every request, the transport underneath logs more.
    assert "httpx" in all_logs.names
    if transport == "httpx":
        assert "httpcore" in all_logs.names
    elif mode == "sync":
        assert "urllib3" in all_logs.names


class Weather(pydantic.BaseModel):
    city: str


def _echo(status: int, template: str, content_type: str = "application/json") -> Any:
    """A reply quoting the request's Authorization header, as some proxies and servers do."""

    def reply(request: RecordedRequest) -> Reply:
        credential = request.headers.get("authorization", "")
        text = template.replace("ECHO", credential)
        return Reply.body(text, status, content_type, headers={"X-Echo": credential})

    return reply


def _echo_stream(record: str) -> Any:
    def reply(request: RecordedRequest) -> Reply:
        line = record.replace("ECHO", request.headers.get("authorization", "")).encode()
        return Reply.ndjson([FIRST_RECORD, line + b"\n"])

    return reply


@pytest.mark.timeout(60)
@pytest.mark.parametrize("credential", ["env", "headers", "url", "auth"])
async def test_a_server_echoing_credentials_does_not_put_them_in_errors(
    mode: str, server: FakeOllama, credential: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", ENV_KEY)
    kwargs: dict[str, Any] = {}
    host = server.url
    if credential == "headers":
        kwargs["headers"] = {"Authorization": f"Bearer {HEADER_KEY}"}
    elif credential == "url":
        host = f"http://ollama:{PASSWORD}@127.0.0.1:{server.port}"
    elif credential == "auth":
        kwargs["auth"] = ("ollama", PASSWORD)
    server.expect(
        "GET",
        "/api/tags",
        _echo(401, '{"error": "invalid credential ECHO", "signin_url": "https://x/ECHO"}'),
        _echo(403, "forbidden for ECHO", "text/plain"),
        _echo(200, '{"models": "ECHO", "x"'),
        _echo(200, '["ECHO"]'),
        _echo(200, "ECHO", "text/plain"),
    )
    server.expect(
        "POST",
        "/api/chat",
        _echo_stream('{"error": "ECHO"}'),
        _echo_stream("ECHO"),
        _echo_stream('{"model": "ECHO", "message": 5}'),
        _echo(200, json.dumps({**chat_stream([])[-1], "message": {"role": "assistant",
                                                                   "content": "ECHO"}})),
    )  # fmt: skip
    api = Api(mode, host, **kwargs)
    expected: list[type[OllamaError]] = [
        AuthenticationError, PermissionDeniedError, ProtocolError, ProtocolError, ProtocolError,
        StreamError, ProtocolError, ProtocolError, ParseError,
    ]  # fmt: skip
    errors: list[OllamaError] = []
    for _ in range(5):
        with pytest.raises(OllamaError) as info:
            await api("list")
        errors.append(info.value)
    for _ in range(3):
        with pytest.raises(OllamaError) as info:
            await drain(api, await api("chat", "m", [], stream=True))
        errors.append(info.value)
    with pytest.raises(OllamaError) as info:
        await api("chat", "m", [], format=Weather)
    errors.append(info.value)
    await api.aclose()

    echoed = [request.headers["authorization"] for request in server.requests]
    assert all(echoed) and len(set(echoed)) == 1  # the credential went out, and came back
    secret = echoed[0].split()[-1]
    assert [type(error) for error in errors] == expected
    for error in errors:
        assert_error_keeps_secrets(error)
        for text in (getattr(error, "error", ""), getattr(error, "body", ""),
                     repr(getattr(error, "headers", {})), getattr(error, "raw", "")):  # fmt: skip
            assert secret not in text
            assert_no_secret(text, f"{type(error).__name__} attributes")
    assert "[secret]" in str(errors[0])
    assert errors[0].headers["x-echo"].endswith("[secret]")  # type: ignore[attr-defined]


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    "bad", ["\n", "\r\nX-Injected: 1", "\x7f", "é"], ids=["newline", "crlf", "control", "non-ascii"]
)
async def test_an_unsendable_key_is_refused_without_showing_it(
    mode: str, server: FakeOllama, bad: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", f"sk-env-7f3a{bad}9c1e5b2d")
    with pytest.raises(RequestError, match="OLLAMA_API_KEY") as info:
        Api(mode, server.url)
    assert "7f3a" not in repr(info.value)
    monkeypatch.delenv("OLLAMA_API_KEY")
    with pytest.raises(RequestError, match="Authorization") as info:
        Api(mode, server.url, headers={"Authorization": f"Bearer {HEADER_KEY}{bad}"})
    assert_error_keeps_secrets(info.value)
    assert server.requests == []


@pytest.mark.timeout(20)
def test_recorded_requests_mask_credentials(server: FakeOllama) -> None:
    with Client(server.url, headers={"Authorization": f"Bearer {HEADER_KEY}"}) as client:
        client.version()
    recorded = server.requests[-1]
    assert recorded.headers["authorization"] == f"Bearer {HEADER_KEY}"  # tests can still check
    assert HEADER_KEY not in repr(recorded)
    assert "[secure]" in repr(recorded)
