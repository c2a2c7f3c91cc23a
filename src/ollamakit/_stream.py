"""Streams: NDJSON records decoded as they arrive, closable, with a merged ``final()``.

:class:`RecordDecoder` does all the work that needs no I/O (splitting bytes on ``b"\\n"`` only,
skipping blank lines, raising on ``{"error": ...}`` records, merging the chunks); :class:`Stream`
and :class:`AsyncStream` only pull bytes from the network and hand them over.

Ollama sends one HTTP chunk per record, but a record may also arrive split across chunks or
several per chunk; and Go leaves U+0085 and U+2028 raw inside JSON strings, so splitting with
``str.splitlines`` (as ``iter_lines`` does) would cut records in half.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from contextlib import closing
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import msgspec

from ._errors import IncompleteStreamError, OllamaError, StreamError
from ._types import (
    ChatResponse,
    GenerateResponse,
    ProgressResponse,
    SubscriptableBaseModel,
    decode_response,
    decoder_for,
)

if TYPE_CHECKING:
    import httpx

__all__ = ["AsyncStream", "RecordDecoder", "Stream"]

T = TypeVar("T", bound=SubscriptableBaseModel)
Redact = Callable[[OllamaError], OllamaError]
"""Blanks the client's credentials out of an error (a server may echo them in a record)."""


def _keep(error: OllamaError) -> OllamaError:
    return error


_ERROR_KEY = b'"error"'
_ABORT_EXTENSION = "ollamakit.abort"  # _http._aiohttp.ABORT_EXTENSION, not imported: no httpx here


class _Merger(Generic[T]):
    """Accumulates the chunks of one stream into the response a non-streaming call returns."""

    def __init__(self) -> None:
        self.last: T | None = None

    def add(self, item: T) -> bool:
        """Record one chunk; True when it is the stream's final record."""
        self.last = item
        return isinstance(item, ProgressResponse) and item.status == "success"

    def result(self) -> T | None:
        return self.last


class _Text:
    """Text pieces joined as they come.

    A list of the pieces would keep one string object per record (about 58 bytes for a
    one-character token), so an endless stream would grow without bound even if ``final()``
    is never called. Here every 256 pieces become one string, and those strings are merged
    into a few, each at least twice as long as the next: memory is the characters themselves,
    and each character is copied a logarithmic number of times.
    """

    __slots__ = ("_blocks", "_pieces")

    def __init__(self) -> None:
        self._pieces: list[str] = []
        self._blocks: list[str] = []

    def add(self, piece: str) -> None:
        pieces = self._pieces
        pieces.append(piece)
        if len(pieces) < _PIECES_PER_BLOCK:
            return
        block = "".join(pieces)
        pieces.clear()
        blocks = self._blocks
        while blocks and len(blocks[-1]) < 2 * len(block):
            block = blocks.pop() + block
        blocks.append(block)

    def value(self) -> str | None:
        """The text so far, or None when no piece came."""
        if not self._blocks and not self._pieces:
            return None
        return "".join(self._blocks) + "".join(self._pieces)


_PIECES_PER_BLOCK = 256


class _ChatMerger(_Merger[ChatResponse]):
    def __init__(self) -> None:
        super().__init__()
        self.content = _Text()
        self.thinking = _Text()
        self.tool_calls: list[Any] = []
        self.logprobs: list[Any] = []

    def add(self, item: ChatResponse) -> bool:
        self.last = item
        message = item.message
        if message.content:
            self.content.add(message.content)
        if message.thinking:
            self.thinking.add(message.thinking)
        if message.tool_calls:
            self.tool_calls.extend(message.tool_calls)
        if item.logprobs:
            self.logprobs.extend(item.logprobs)
        return bool(item.done)

    def result(self) -> ChatResponse | None:
        last = self.last
        if last is None:
            return None
        message = last.message.model_copy(
            update={
                "content": self.content.value() or "",
                "thinking": self.thinking.value(),
                "tool_calls": self.tool_calls or None,
            }
        )
        return last.model_copy(update={"message": message, "logprobs": self.logprobs or None})


class _GenerateMerger(_Merger[GenerateResponse]):
    def __init__(self) -> None:
        super().__init__()
        self.response = _Text()
        self.thinking = _Text()
        self.tool_calls: list[Any] = []
        self.logprobs: list[Any] = []

    def add(self, item: GenerateResponse) -> bool:
        self.last = item
        if item.response:
            self.response.add(item.response)
        if item.thinking:
            self.thinking.add(item.thinking)
        if item.tool_calls:
            self.tool_calls.extend(item.tool_calls)
        if item.logprobs:
            self.logprobs.extend(item.logprobs)
        return bool(item.done)

    def result(self) -> GenerateResponse | None:
        last = self.last
        if last is None:
            return None
        return last.model_copy(
            update={
                "response": self.response.value() or "",
                "thinking": self.thinking.value(),
                "tool_calls": self.tool_calls or None,
                "logprobs": self.logprobs or None,
            }
        )


def _merger_for(cls: type[T]) -> _Merger[T]:
    if cls is ChatResponse:
        return _ChatMerger()  # type: ignore[return-value]
    if cls is GenerateResponse:
        return _GenerateMerger()  # type: ignore[return-value]
    return _Merger()


class RecordDecoder(Generic[T]):
    """Turns the bytes of an NDJSON body into typed records. No I/O."""

    def __init__(self, cls: type[T]) -> None:
        self.cls = cls
        self._decode = decoder_for(cls).decode
        # The pieces of a line still waiting for its newline, joined only once it arrives: a
        # multi-megabyte record spread over thousands of chunks then costs linear, not
        # quadratic, time.
        self._partial: list[bytes] = []
        self.merger: _Merger[T] = _merger_for(cls)
        self.finished = False
        self._error: StreamError | None = None

    def feed(self, chunk: bytes) -> list[T]:
        """The records completed by ``chunk`` (a trailing partial line is kept for later)."""
        if self._error is not None:
            raise self._error
        if b"\n" not in chunk:
            if chunk:
                self._partial.append(chunk)
            return []
        if self._partial:
            self._partial.append(chunk)
            chunk = b"".join(self._partial)
            self._partial = []
        *lines, rest = chunk.split(b"\n")
        if rest:
            self._partial.append(rest)
        items: list[T] = []
        append = items.append
        add = self.merger.add
        decode = self._decode
        for line in lines:
            if not line:
                continue
            # Typed decoding first: it is the common case, and it cannot succeed on an
            # {"error": ...} record or a blank line (every model forbids unknown fields), so
            # those checks only run once it has failed. This halves the cost per record.
            try:
                item = decode(line)
            except msgspec.ValidationError:
                error = self._error_in(line) if _ERROR_KEY in line else None
                if error is not None:
                    if not items:
                        raise error from None
                    # Hand out the records that came before the error first.
                    self._error = error
                    return items
                item = decode_response(self.cls, line)
            except msgspec.DecodeError:
                if line.isspace():
                    continue
                item = decode_response(self.cls, line)  # raises ProtocolError with the line
            if add(item):
                self.finished = True
            append(item)
        return items

    def finish(self) -> list[T]:
        """End of body: flush a last line without newline; raise if the final record is missing."""
        if self._error is not None:
            raise self._error
        items: list[T] = []
        if b"".join(self._partial).strip():
            items = self.feed(b"\n")
        if self._error is not None:
            raise self._error
        if not self.finished:
            raise IncompleteStreamError(
                "the stream ended before its final record (no done=true / status=success); "
                "the server may have crashed or the connection was cut"
            )
        return items

    @staticmethod
    def _error_in(line: bytes) -> StreamError | None:
        try:
            record = msgspec.json.decode(line)
        except msgspec.DecodeError:
            return None
        if isinstance(record, dict) and record.get("error"):
            error = record["error"]
            return StreamError(
                error if isinstance(error, str) else msgspec.json.encode(error).decode()
            )
        return None

    def final(self) -> T:
        result = self.merger.result()
        if result is None:
            raise IncompleteStreamError("the stream produced no records")
        return result


class _StreamBase(Generic[T]):
    def __init__(self, response: httpx.Response, cls: type[T], redact: Redact) -> None:
        self.response = response
        """The underlying ``httpx.Response`` (status, headers)."""
        self._decoder = RecordDecoder(cls)
        self._redact = redact
        self.finish: Callable[[T], T] | None = None
        """Applied to the merged response by ``final()`` (structured-output parsing)."""
        self._closed = False

    def _merged(self) -> T:
        try:
            final = self._decoder.final()
            return final if self.finish is None else self.finish(final)
        except OllamaError as exc:
            raise self._redact(exc) from None

    @property
    def finished(self) -> bool:
        """True once the final record (``done`` / ``success``) has arrived."""
        return self._decoder.finished


def _records(
    body: Iterator[bytes], decoder: RecordDecoder[T], response: httpx.Response, redact: Redact
) -> Generator[T, None, None]:
    feed = decoder.feed
    try:
        for chunk in body:
            items = feed(chunk)
            if items:
                yield from items
        yield from decoder.finish()
    except OllamaError as exc:
        raise redact(exc) from None
    finally:
        response.close()


class Stream(_StreamBase[T], Iterator[T]):
    """A streamed response: iterate it for chunks; ``close()`` stops the generation.

    Use it as a context manager to be sure the connection is released::

        with client.chat(model, messages, stream=True) as stream:
            for chunk in stream:
                print(chunk.message.content, end="")
        print(stream.final().eval_count)
    """

    def __init__(
        self,
        response: httpx.Response,
        cls: type[T],
        body: Iterator[bytes],
        on_chunk: Callable[[T], Any] | None = None,
        *,
        redact: Redact = _keep,
    ) -> None:
        super().__init__(response, cls, redact)
        # The generator must not refer back to the stream: with that cycle, a stream the caller
        # breaks out of and drops would keep its connection (and Ollama would keep generating)
        # until the garbage collector happened to run.
        self._iterator = _records(body, self._decoder, response, redact)
        if on_chunk is not None:
            self._iterator = self._notify(self._iterator, on_chunk)

    @staticmethod
    def _notify(
        records: Generator[T, None, None], on_chunk: Callable[[T], Any]
    ) -> Generator[T, None, None]:
        # A callback that raises aborts the stream: closing ``records`` closes the connection.
        with closing(records):
            for item in records:
                on_chunk(item)
                yield item

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        return next(self._iterator)

    def _release(self) -> None:
        if not self._closed:
            self._closed = True
            self.response.close()

    def __del__(self) -> None:
        # A stream dropped before its first chunk has a generator that never started, so the
        # generator's cleanup never runs: close the connection here instead of leaking it.
        if not getattr(self, "_closed", True):
            try:
                self._release()
            except Exception:
                pass

    def close(self) -> None:
        """Stop reading and close the connection (Ollama stops generating)."""
        self._iterator.close()
        self._release()

    def __enter__(self) -> Stream[T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def final(self) -> T:
        """Read what is left and return the merged response (content, thinking, tool calls)."""
        for _ in self:
            pass
        return self._merged()

    def text(self) -> Iterator[str]:
        """Just the text: message content for chat, ``response`` for generate."""
        for item in self:
            if isinstance(item, ChatResponse):
                if item.message.content:
                    yield item.message.content
            elif isinstance(item, GenerateResponse) and item.response:
                yield item.response


class AsyncStream(_StreamBase[T], AsyncIterator[T]):
    """The asyncio twin of :class:`Stream` (``async for``, ``async with``, ``await close()``)."""

    def __init__(
        self,
        response: httpx.Response,
        cls: type[T],
        body: AsyncIterator[bytes],
        on_chunk: Callable[[T], Any] | None = None,
        *,
        redact: Redact = _keep,
    ) -> None:
        super().__init__(response, cls, redact)
        self._body = body
        self._on_chunk = on_chunk
        self._pending: list[T] = []
        self._position = 0
        self._exhausted = False

    def __aiter__(self) -> AsyncStream[T]:
        return self

    async def __anext__(self) -> T:
        if self._position < len(self._pending):
            item = self._pending[self._position]
            self._position += 1
            if self._on_chunk is not None:
                try:
                    result = self._on_chunk(item)
                    if inspect.isawaitable(result):
                        await result
                except BaseException:
                    await self.aclose()
                    raise
            return item
        if self._exhausted:
            raise StopAsyncIteration
        try:
            while True:
                try:
                    chunk = await self._body.__anext__()
                except StopAsyncIteration:
                    self._exhausted = True
                    self._pending = self._decoder.finish()
                    await self.aclose()
                    break
                self._pending = self._decoder.feed(chunk)
                if self._pending:
                    break
        except OllamaError as exc:
            self._exhausted = True
            await self.aclose()
            raise self._redact(exc) from None
        except BaseException:
            self._exhausted = True
            await self.aclose()
            raise
        self._position = 0
        return await self.__anext__()

    async def aclose(self) -> None:
        """Stop reading and close the connection (Ollama stops generating)."""
        self._exhausted = True
        if not self._closed:
            self._closed = True
            aclose = getattr(self._body, "aclose", None)
            if aclose is not None:
                await aclose()
            await self.response.aclose()

    close = aclose

    def __del__(self) -> None:
        # Dropped without aclose() (the caller broke out of ``async for``): a finalizer cannot
        # await, so use the transport's synchronous abort when it offers one (the default
        # aiohttp transport does); otherwise the connection is only released once the
        # asynchronous generators reading the body have been finalized by the event loop.
        if getattr(self, "_closed", True):
            return
        abort = self.response.extensions.get(_ABORT_EXTENSION)
        if abort is not None:
            try:
                abort()
            except Exception:
                pass

    async def __aenter__(self) -> AsyncStream[T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def final(self) -> T:
        async for _ in self:
            pass
        return self._merged()

    async def text(self) -> AsyncIterator[str]:
        async for item in self:
            if isinstance(item, ChatResponse):
                if item.message.content:
                    yield item.message.content
            elif isinstance(item, GenerateResponse) and item.response:
                yield item.response
