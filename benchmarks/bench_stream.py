"""Client throughput against the raw NDJSON server: the streaming firehose and the
non-streaming round trip, every contender interleaved round by round.

``python bench_stream.py --port P --section firehose|roundtrip [--rounds R] ...``
prints one JSON document (see ``_common.emit``). Needs ``ndjson_server.py`` running on P.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec
from _common import emit, rotated, use_repo_source
from ndjson_server import REPLY, Body, stream_body

use_repo_source()

import ollama  # noqa: E402

import ollamakit  # noqa: E402

MESSAGES = [{"role": "user", "content": "Why is the sky blue?"}]
Run = Callable[[], float]


@dataclass
class Contender:
    name: str
    kind: str  # "sync" or "async"
    role: str  # "ollamakit", "official", "floor" or "info"
    run: Run
    samples: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # this process's CPU time per run


def _check(name: str, count: int, chars: int, expected: Body) -> None:
    if count != expected.records or chars != expected.content_chars:
        raise AssertionError(
            f"{name}: got {count} chunks / {chars} characters, "
            f"expected {expected.records} / {expected.content_chars}"
        )


# -- the raw floor: a socket, the chunked framing undone by hand, one JSON parse per line ----


def _request_bytes(port: int, body: bytes) -> bytes:
    head = (
        f"POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


def _parse_chunked(data: bytes) -> tuple[int, int]:
    """Records and content characters of a whole chunked NDJSON response."""
    decode = msgspec.json.decode
    pos = data.index(b"\r\n\r\n") + 4
    count = chars = 0
    pending = b""
    last: Any = None
    index = data.index
    while True:
        eol = index(b"\r\n", pos)
        size = int(data[pos:eol], 16)
        if size == 0:
            break
        start = eol + 2
        payload = data[start : start + size]
        pos = start + size + 2
        if pending:
            payload = pending + payload
        *lines, pending = payload.split(b"\n")
        for line in lines:
            if line:
                last = decode(line)
                chars += len(last["message"]["content"])
                count += 1
    if last is None or last.get("done") is not True:
        raise AssertionError("floor: stream ended without its done record")
    return count, chars


class FloorSync:
    def __init__(self, port: int, records: int) -> None:
        self.expected = stream_body(records)
        body = msgspec.json.encode(
            {"model": f"bench-{records}", "messages": MESSAGES, "stream": True}
        )
        self.request = _request_bytes(port, body)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def run(self) -> float:
        started = time.perf_counter()
        sock = self.sock
        sock.sendall(self.request)
        buffer = bytearray()
        recv = sock.recv
        while buffer[-5:] != b"0\r\n\r\n":
            data = recv(1 << 20)
            if not data:
                raise AssertionError("floor: connection closed mid-stream")
            buffer += data
        count, chars = _parse_chunked(bytes(buffer))
        elapsed = time.perf_counter() - started
        _check("floor (sync)", count, chars, self.expected)
        return elapsed


class FloorAsync:
    def __init__(self, loop: asyncio.AbstractEventLoop, port: int, records: int) -> None:
        self.loop = loop
        self.expected = stream_body(records)
        body = msgspec.json.encode(
            {"model": f"bench-{records}", "messages": MESSAGES, "stream": True}
        )
        self.request = _request_bytes(port, body)
        self.reader, self.writer = loop.run_until_complete(
            asyncio.open_connection("127.0.0.1", port)
        )

    async def _run(self) -> float:
        started = time.perf_counter()
        self.writer.write(self.request)
        buffer = bytearray()
        read = self.reader.read
        while buffer[-5:] != b"0\r\n\r\n":
            data = await asyncio.wait_for(read(1 << 20), 30)
            if not data:
                raise AssertionError("floor: connection closed mid-stream")
            buffer += data
        count, chars = _parse_chunked(bytes(buffer))
        elapsed = time.perf_counter() - started
        _check("floor (async)", count, chars, self.expected)
        return elapsed

    def run(self) -> float:
        return self.loop.run_until_complete(self._run())


# -- the clients ---------------------------------------------------------------------------


def sync_stream(name: str, client: Any, records: int) -> Run:
    expected = stream_body(records)
    model = f"bench-{records}"

    def run() -> float:
        started = time.perf_counter()
        count = chars = 0
        for chunk in client.chat(model=model, messages=MESSAGES, stream=True):
            chars += len(chunk.message.content)
            count += 1
        elapsed = time.perf_counter() - started
        _check(name, count, chars, expected)
        return elapsed

    return run


def async_stream(name: str, loop: asyncio.AbstractEventLoop, client: Any, records: int) -> Run:
    expected = stream_body(records)
    model = f"bench-{records}"

    async def once() -> float:
        started = time.perf_counter()
        count = chars = 0
        async for chunk in await client.chat(model=model, messages=MESSAGES, stream=True):
            chars += len(chunk.message.content)
            count += 1
        elapsed = time.perf_counter() - started
        _check(name, count, chars, expected)
        return elapsed

    return lambda: loop.run_until_complete(once())


def sync_roundtrip(name: str, client: Any, requests: int) -> Run:
    def run() -> float:
        started = time.perf_counter()
        for _ in range(requests):
            response = client.chat(model="llama3.2", messages=MESSAGES, stream=False)
            if response.message.content != REPLY:
                raise AssertionError(f"{name}: unexpected reply {response.message.content!r}")
        return time.perf_counter() - started

    return run


def async_roundtrip(name: str, loop: asyncio.AbstractEventLoop, client: Any, requests: int) -> Run:
    async def once() -> float:
        started = time.perf_counter()
        for _ in range(requests):
            response = await client.chat(model="llama3.2", messages=MESSAGES, stream=False)
            if response.message.content != REPLY:
                raise AssertionError(f"{name}: unexpected reply {response.message.content!r}")
        return time.perf_counter() - started

    return lambda: loop.run_until_complete(once())


class FloorRoundtrip:
    """One request and one Content-Length answer over a kept-alive raw socket."""

    def __init__(self, port: int, requests: int) -> None:
        body = msgspec.json.encode({"model": "llama3.2", "messages": MESSAGES, "stream": False})
        self.request = _request_bytes(port, body)
        self.requests = requests
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def run(self) -> float:
        sock = self.sock
        decode = msgspec.json.decode
        started = time.perf_counter()
        for _ in range(self.requests):
            sock.sendall(self.request)
            data = b""
            while b"\r\n\r\n" not in data:
                data += sock.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(body) < length:
                body += sock.recv(65536)
            if decode(body)["message"]["content"] != REPLY:
                raise AssertionError("floor: unexpected reply")
        return time.perf_counter() - started


# -- rounds --------------------------------------------------------------------------------


def measure(contenders: list[Contender], rounds: int, log: Callable[[str], None]) -> None:
    for contender in contenders:  # warm-up: connections open, caches filled, code paths hot
        contender.run()
    for round_index in range(rounds):
        for contender in rotated(contenders, round_index):
            gc.collect()
            cpu_started = time.process_time()
            contender.samples.append(contender.run())
            contender.cpu.append(time.process_time() - cpu_started)
        log(f"    round {round_index + 1}/{rounds} done")


def firehose(port: int, rounds: int, records: int, log: Callable[[str], None]) -> dict[str, Any]:
    host = f"http://127.0.0.1:{port}"
    loop = asyncio.new_event_loop()
    official_sync = ollama.Client(host=host)
    official_async = ollama.AsyncClient(host=host)
    kit_sync = ollamakit.Client(host)
    kit_async = ollamakit.AsyncClient(host)
    kit_sync_httpx = ollamakit.Client(host, transport=httpx.HTTPTransport())
    kit_async_httpx = ollamakit.AsyncClient(host, transport=httpx.AsyncHTTPTransport())
    floor_sync = FloorSync(port, records)
    floor_async = FloorAsync(loop, port, records)
    contenders = [
        Contender(
            "ollamakit.Client",
            "sync",
            "ollamakit",
            sync_stream("ollamakit.Client", kit_sync, records),
        ),
        Contender(
            "ollama.Client (official)",
            "sync",
            "official",
            sync_stream("ollama.Client", official_sync, records),
        ),
        Contender("floor: raw socket + msgspec.json.decode", "sync", "floor", floor_sync.run),
        Contender(
            "ollamakit.Client(transport=httpx.HTTPTransport())",
            "sync",
            "info",
            sync_stream("ollamakit.Client+httpx", kit_sync_httpx, records),
        ),
        Contender(
            "ollamakit.AsyncClient",
            "async",
            "ollamakit",
            async_stream("ollamakit.AsyncClient", loop, kit_async, records),
        ),
        Contender(
            "ollama.AsyncClient (official)",
            "async",
            "official",
            async_stream("ollama.AsyncClient", loop, official_async, records),
        ),
        Contender("floor: asyncio socket + msgspec.json.decode", "async", "floor", floor_async.run),
        Contender(
            "ollamakit.AsyncClient(transport=httpx.AsyncHTTPTransport())",
            "async",
            "info",
            async_stream("ollamakit.AsyncClient+httpx", loop, kit_async_httpx, records),
        ),
    ]
    try:
        measure(contenders, rounds, log)
    finally:
        kit_sync.close()
        kit_sync_httpx.close()
        floor_sync.sock.close()
        floor_async.writer.close()
        loop.run_until_complete(kit_async.close())
        loop.run_until_complete(kit_async_httpx.close())
        loop.run_until_complete(official_async._client.aclose())
        official_sync._client.close()
        loop.close()
    return {
        "records": records,
        "content_chars": stream_body(records).content_chars,
        "rounds": rounds,
        "rows": [
            {
                "name": c.name,
                "kind": c.kind,
                "role": c.role,
                "seconds": c.samples,
                "cpu_seconds": c.cpu,
            }
            for c in contenders
        ],
    }


def roundtrip(port: int, rounds: int, requests: int, log: Callable[[str], None]) -> dict[str, Any]:
    host = f"http://127.0.0.1:{port}"
    loop = asyncio.new_event_loop()
    official_sync = ollama.Client(host=host)
    official_async = ollama.AsyncClient(host=host)
    kit_sync = ollamakit.Client(host)
    kit_async = ollamakit.AsyncClient(host)
    floor = FloorRoundtrip(port, requests)
    contenders = [
        Contender(
            "ollamakit.Client",
            "sync",
            "ollamakit",
            sync_roundtrip("ollamakit.Client", kit_sync, requests),
        ),
        Contender(
            "ollama.Client (official)",
            "sync",
            "official",
            sync_roundtrip("ollama.Client", official_sync, requests),
        ),
        Contender("floor: raw socket + msgspec.json.decode", "sync", "floor", floor.run),
        Contender(
            "ollamakit.AsyncClient",
            "async",
            "ollamakit",
            async_roundtrip("ollamakit.AsyncClient", loop, kit_async, requests),
        ),
        Contender(
            "ollama.AsyncClient (official)",
            "async",
            "official",
            async_roundtrip("ollama.AsyncClient", loop, official_async, requests),
        ),
    ]
    try:
        measure(contenders, rounds, log)
    finally:
        kit_sync.close()
        floor.sock.close()
        loop.run_until_complete(kit_async.close())
        loop.run_until_complete(official_async._client.aclose())
        official_sync._client.close()
        loop.close()
    return {
        "requests": requests,
        "rounds": rounds,
        "rows": [
            {
                "name": c.name,
                "kind": c.kind,
                "role": c.role,
                "seconds": c.samples,
                "cpu_seconds": c.cpu,
            }
            for c in contenders
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--section", choices=("firehose", "roundtrip"), required=True)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=2_000)
    args = parser.parse_args()

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if args.section == "firehose":
        result: dict[str, Any] = firehose(args.port, args.rounds, args.records, log)
    else:
        result = roundtrip(args.port, args.rounds, args.requests, log)
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
