"""Where a blocking client and an asyncio client differ, besides the network layer.

:class:`~ollamakit.AsyncClient` is written once, on :class:`AsyncMode`; ``ci/unasync.py``
generates :class:`~ollamakit.Client` from it on :class:`SyncMode`. Everything that must wait
differently is one of these few methods, so the rest of the client is the same text for both.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

__all__ = ["AsyncMode", "SyncMode"]

T = TypeVar("T")


class SyncMode:
    """Blocking: work runs here, callbacks are plain calls."""

    @staticmethod
    def _in_worker(function: Callable[..., T], *args: Any) -> T:
        """Run blocking work (hashing a file, parsing a Modelfile)."""
        return function(*args)

    @staticmethod
    def _upload_body(chunks: Iterator[bytes]) -> Iterator[bytes]:
        """A blob's pieces as the network layer reads them."""
        return chunks

    @staticmethod
    def _call_back(callback: Callable[[Any], Any], value: Any) -> None:
        callback(value)

    @staticmethod
    def _relay(callback: Callable[[Any], Any]) -> _Relay:
        """``callback`` made callable from the thread that reads a blob."""
        return _Relay(callback)


class AsyncMode:
    """Asyncio: blocking work runs in a worker thread, callbacks may be coroutine functions."""

    @staticmethod
    async def _in_worker(function: Callable[..., T], *args: Any) -> T:
        return await _to_thread(function, *args)

    @staticmethod
    def _upload_body(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
        return _read_in_worker(chunks)

    @staticmethod
    async def _call_back(callback: Callable[[Any], Any], value: Any) -> None:
        result = callback(value)
        if inspect.isawaitable(result):
            await result

    @staticmethod
    def _relay(callback: Callable[[Any], Any]) -> _AsyncRelay:
        return _AsyncRelay(callback)


class _Relay:
    def __init__(self, callback: Callable[[Any], Any]) -> None:
        self._callback = callback

    def __call__(self, value: Any) -> None:
        self._callback(value)

    def drain(self) -> None:
        """Wait for the calls made so far (nothing to wait for here)."""


class _AsyncRelay:
    """Hands each value from a worker thread to the event loop, where the callback runs."""

    def __init__(self, callback: Callable[[Any], Any]) -> None:
        import asyncio

        self._callback = callback
        self._loop = asyncio.get_running_loop()
        self._pending: list[Any] = []

    def __call__(self, value: Any) -> None:
        import asyncio

        coroutine = AsyncMode._call_back(self._callback, value)
        self._pending.append(asyncio.run_coroutine_threadsafe(coroutine, self._loop))

    async def drain(self) -> None:
        import asyncio

        for future in self._pending:
            await asyncio.wrap_future(future)


async def _to_thread(function: Callable[..., T], *args: Any) -> T:
    # asyncio is imported here rather than at module level: it costs a third of the import
    # time of ollamakit, and blocking users never need it.
    import asyncio

    return await asyncio.to_thread(function, *args)


async def _read_in_worker(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Read a blob's pieces in a worker thread so the event loop never blocks on disk."""
    done = object()
    while (chunk := await _to_thread(next, chunks, done)) is not done:
        yield chunk
