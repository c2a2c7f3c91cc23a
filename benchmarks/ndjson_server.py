"""A minimal keep-alive HTTP/1.1 server that answers ``POST /api/chat`` like Ollama, fast.

Run as its own process (``python ndjson_server.py``); it prints ``PORT <n>`` and serves on
127.0.0.1 until ``--max-seconds`` have passed. The benchmark harness kills it in a ``finally``
anyway.

- ``"stream": false`` gets one small chat response with a Content-Length body.
- Otherwise the answer is a stream of chat chunks framed as Ollama frames them, one HTTP chunk
  per NDJSON line, and the whole framed body goes out in one ``sendall``, so the client,
  not this server, is the bottleneck. The model name chooses the number of records:
  ``bench-<n>`` (the default is 20,000); the last record is the ``done`` one.

The bodies are built by :func:`stream_body` and :func:`chat_body`, which the clients import
to know what they must receive.
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
import time
from dataclasses import dataclass
from functools import lru_cache

import msgspec

DEFAULT_RECORDS = 20_000
MODEL = "llama3.2"
CREATED_AT = "2025-10-26T17:15:24.097767Z"
# Token-sized pieces, as a model emits them; some non-ASCII and an escaped newline, and
# characters Go's encoder escapes (<, >, &) to keep the JSON realistic.
WORDS = (
    " The",
    " sky",
    " is",
    " blue",
    " because",
    " of",
    " Rayleigh",
    " scattering",
    ",",
    " which",
    " affects",
    " shorter",
    " wavelengths",
    " more",
    ".",
    "\n\n",
    " Café",
    " naïve",
    " —",
    " <b>",
    " R&D",
    " 42",
    "%",
    " 日本",
)
REPLY = "Hello! How can I help you today?"


@dataclass(frozen=True)
class Body:
    framed: bytes
    records: int
    content_chars: int


def _go_json(value: object) -> bytes:
    # Go's encoding/json escapes <, > and & inside strings; these bytes never occur
    # elsewhere in the records built here.
    data = msgspec.json.encode(value)
    return data.replace(b"<", b"\\u003c").replace(b">", b"\\u003e").replace(b"&", b"\\u0026")


def _final_record(eval_count: int) -> dict[str, object]:
    return {
        "model": MODEL,
        "created_at": CREATED_AT,
        "message": {"role": "assistant", "content": ""},
        "done": True,
        "done_reason": "stop",
        "total_duration": 4_883_583_458,
        "load_duration": 1_334_875,
        "prompt_eval_count": 26,
        "prompt_eval_duration": 342_546_000,
        "eval_count": eval_count,
        "eval_duration": 4_535_599_000,
    }


@lru_cache(maxsize=8)
def stream_body(records: int = DEFAULT_RECORDS) -> Body:
    """The framed chunked body of a chat stream with ``records`` records in all."""
    if records < 1:
        raise ValueError("a stream has at least its final record")
    words = [_go_json(word) for word in WORDS]
    prefix = b'{"model":"' + MODEL.encode() + b'","created_at":"' + CREATED_AT.encode()
    prefix += b'","message":{"role":"assistant","content":'
    parts: list[bytes] = []
    chars = 0
    for index in range(records - 1):
        word = WORDS[index % len(WORDS)]
        chars += len(word)
        line = prefix + words[index % len(words)] + b'},"done":false}\n'
        parts.append(b"%x\r\n%s\r\n" % (len(line), line))
    line = _go_json(_final_record(records - 1)) + b"\n"
    parts.append(b"%x\r\n%s\r\n" % (len(line), line))
    parts.append(b"0\r\n\r\n")
    return Body(b"".join(parts), records, chars)


@lru_cache(maxsize=1)
def chat_body() -> bytes:
    """The body of a non-streaming chat answer."""
    record = _final_record(9)
    record["message"] = {"role": "assistant", "content": REPLY}
    return _go_json(record)


def _head(status: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [
        f"HTTP/1.1 {status}",
        "Date: Sun, 26 Oct 2025 17:15:24 GMT",
        *(f"{name}: {value}" for name, value in headers),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _records_for(body: bytes) -> int:
    marker = b'"model":"bench-'
    start = body.find(marker)
    if start < 0:
        return DEFAULT_RECORDS
    start += len(marker)
    end = body.find(b'"', start)
    try:
        return max(1, min(int(body[start:end]), 1_000_000))
    except ValueError:
        return DEFAULT_RECORDS


class _Connection:
    """One client connection: read requests, answer them, until the client hangs up."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buffer += data
        return True

    def _read_request(self) -> tuple[bytes, bytes, bytes] | None:
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill():
                return None
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        request_line, _, header_block = head.partition(b"\r\n")
        method, path, _ = [*request_line.split(b" ", 2), b"", b""][:3]
        headers: dict[bytes, bytes] = {}
        for raw in header_block.split(b"\r\n"):
            name, _, value = raw.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
            body = self._read_chunked()
            if body is None:
                return None
        else:
            length = int(headers.get(b"content-length", b"0") or 0)
            while len(self.buffer) < length:
                if not self._fill():
                    return None
            body, self.buffer = self.buffer[:length], self.buffer[length:]
        return method, path, body

    def _read_chunked(self) -> bytes | None:
        parts: list[bytes] = []
        while True:
            while b"\r\n" not in self.buffer:
                if not self._fill():
                    return None
            size_line, self.buffer = self.buffer.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            while len(self.buffer) < size + 2:
                if not self._fill():
                    return None
            parts.append(self.buffer[:size])
            self.buffer = self.buffer[size + 2 :]
            if size == 0:
                return b"".join(parts)

    def serve(self) -> None:
        try:
            while True:
                request = self._read_request()
                if request is None:
                    return
                method, path, body = request
                self.sock.sendall(self._answer(method, path, body))
        except OSError:
            return
        finally:
            self.sock.close()

    def _answer(self, method: bytes, path: bytes, body: bytes) -> bytes:
        if method == b"POST" and path == b"/api/chat":
            if b'"stream":false' in body.replace(b" ", b""):
                payload = chat_body()
                return (
                    _head(
                        "200 OK",
                        [
                            ("Content-Type", "application/json; charset=utf-8"),
                            ("Content-Length", str(len(payload))),
                        ],
                    )
                    + payload
                )
            stream = stream_body(_records_for(body))
            return (
                _head(
                    "200 OK",
                    [("Content-Type", "application/x-ndjson"), ("Transfer-Encoding", "chunked")],
                )
                + stream.framed
            )
        if method == b"GET" and path == b"/":
            payload = b"Ollama is running"
            return (
                _head(
                    "200 OK",
                    [("Content-Type", "text/plain"), ("Content-Length", str(len(payload)))],
                )
                + payload
            )
        payload = b'{"error":"not found"}'
        return (
            _head(
                "404 Not Found",
                [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
            )
            + payload
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=900.0)
    args = parser.parse_args()
    stream_body(DEFAULT_RECORDS)  # build the big body before the first client is waiting
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(1024)
    listener.settimeout(0.5)
    sys.stdout.write(f"PORT {listener.getsockname()[1]}\n")
    sys.stdout.flush()
    deadline = time.monotonic() + args.max_seconds
    while time.monotonic() < deadline:
        try:
            sock, _ = listener.accept()
        except TimeoutError:
            continue
        sock.settimeout(120)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=_Connection(sock).serve, daemon=True).start()
    listener.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
