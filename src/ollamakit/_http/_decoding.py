"""Undoing a ``Content-Encoding`` (gzip, deflate) as the bytes arrive, in bounded pieces. No I/O.

A compressing proxy in front of Ollama gzips the NDJSON of a stream: each piece is decoded
as soon as it arrives, so records still come one by one. Decompression never produces more
than ``PIECE`` bytes at a time, so a small compressed chunk that expands enormously (a
"gzip bomb") cannot take the memory at once; for a whole body read into memory, ``limit``
bounds the total.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

from .._errors import ProtocolError

__all__ = ["ACCEPT_ENCODING", "MAX_DECODED_BODY", "BodyDecoder", "is_encoded"]

ACCEPT_ENCODING = "gzip, deflate"
"""What we ask for: exactly what :func:`decoded` can undo."""

MAX_DECODED_BODY = 256 * 2**20
"""The most a compressed non-streaming answer may expand to (256 MiB): far above any real
answer (a verbose ``show`` is a few MB), far below what a decompression bomb would take."""

PIECE = 2**20
"""The most one decompression step produces."""

_IDENTITY = frozenset({"", "identity"})


class _Inflate:
    """One zlib stream (gzip or deflate), concatenated gzip members included."""

    def __init__(self, encoding: str) -> None:
        self._gzip = encoding in ("gzip", "x-gzip")
        self._inflater = self._new()
        self._first = True

    def _new(self) -> zlib._Decompress:
        return zlib.decompressobj(zlib.MAX_WBITS | 16 if self._gzip else zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data:
            problem = None
            try:
                piece = self._inflater.decompress(data, PIECE)
            except zlib.error as exc:
                problem = str(exc)
            if problem is not None:  # raised here so that zlib's error is not chained to ours
                if self._first and not self._gzip:
                    # Some servers send raw deflate without the zlib header, as browsers allow.
                    self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                    self._first = False
                    continue
                raise ProtocolError(f"the server sent a corrupt compressed body: {problem}")
            self._first = False
            if piece:
                yield piece
            data = self._inflater.unconsumed_tail
            if self._inflater.eof:
                rest = self._inflater.unused_data
                self._inflater = self._new()
                data = rest if self._gzip else b""

    def end(self) -> Iterator[bytes]:
        piece = self._inflater.flush()
        if piece:
            yield piece


def _fed(decoder: _Inflate, pieces: Iterable[bytes]) -> Iterator[bytes]:
    for piece in pieces:
        yield from decoder.feed(piece)


class BodyDecoder:
    """Decodes a body sent with ``content_encoding`` as it arrives: ``feed`` each chunk, then
    ``end``. Both yield the decoded pieces.

    Raises :class:`ProtocolError` for an encoding other than gzip and deflate, a corrupt
    body, or more than ``limit`` decoded bytes.
    """

    def __init__(self, content_encoding: str, limit: int | None = None) -> None:
        names = [name.strip().lower() for name in content_encoding.split(",")]
        self._chain: list[_Inflate] = []
        for name in reversed(names):  # the last encoding applied is undone first
            if name in _IDENTITY:
                continue
            if name not in ("gzip", "x-gzip", "deflate"):
                raise ProtocolError(
                    f"the server sent a body in an encoding we did not ask for: {name!r} "
                    f"(Accept-Encoding: {ACCEPT_ENCODING})"
                )
            self._chain.append(_Inflate(name))
        self._limit = limit
        self._total = 0

    def _counted(self, pieces: Iterable[bytes]) -> Iterator[bytes]:
        for piece in pieces:
            self._total += len(piece)
            if self._limit is not None and self._total > self._limit:
                raise ProtocolError(
                    f"the server's compressed answer expands to more than "
                    f"{self._limit // 2**20} MiB; a real answer is far smaller, so it was not "
                    "read further"
                )
            yield piece

    def _through(self, pieces: Iterable[bytes], start: int) -> Iterator[bytes]:
        for decoder in self._chain[start:]:
            pieces = _fed(decoder, pieces)
        return iter(pieces)

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        return self._counted(self._through([chunk], 0))

    def end(self) -> Iterator[bytes]:
        def flushed() -> Iterator[bytes]:
            for index, decoder in enumerate(self._chain):
                yield from self._through(decoder.end(), index + 1)

        return self._counted(flushed())


def is_encoded(content_encoding: str | None) -> bool:
    """Whether a body with this ``Content-Encoding`` needs decoding."""
    return content_encoding is not None and content_encoding.strip().lower() not in _IDENTITY
