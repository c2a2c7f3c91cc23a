"""Blocking work in a thread, reporting to the event loop.

llama.cpp, hashing blobs and registry transfers block; each runs in a thread of its own and
sends ``(kind, value)`` events back through a queue on the loop, so the server keeps
answering other requests. The job's ``cancel`` flag is how the loop tells the thread that
nobody is waiting any more (the generation loop polls it between tokens).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["AnyEvent", "Job"]


class _Releasable(Protocol):
    def release(self) -> None: ...


class Job:
    """Blocking work in a thread, reporting ``(kind, value)`` events to the event loop; the
    last event is ``("done", result)`` or ``("error", exception)``."""

    def __init__(self, cancel: threading.Event | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.cancel = cancel or threading.Event()

    def put(self, kind: str, value: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone at shutdown
            self.loop.call_soon_threadsafe(self.queue.put_nowait, (kind, value))

    def start(self, work: Callable[[Job], Any], lease: _Releasable | None = None) -> None:
        def run() -> None:
            outcome: tuple[str, Any]
            try:
                outcome = ("done", work(self))
            except BaseException as exc:
                outcome = ("error", exc)

            def finish() -> None:
                # Free the runner before the result is visible, so a client that sends its
                # next request (or asks /api/ps) right after the answer sees it idle.
                if lease is not None:
                    lease.release()
                self.queue.put_nowait(outcome)

            with contextlib.suppress(RuntimeError):  # the loop is gone at shutdown
                self.loop.call_soon_threadsafe(finish)

        threading.Thread(target=run, name="ollamakit-job", daemon=True).start()

    async def next(self) -> tuple[str, Any]:
        return await self.queue.get()

    async def result(self) -> Any:
        """The work's return value (progress events are dropped); raises its exception."""
        while True:
            kind, value = await self.next()
            if kind == "done":
                return value
            if kind == "error":
                raise value


class AnyEvent(threading.Event):
    """Reads as set when any of the given events is (the runner only polls ``is_set``)."""

    def __init__(self, *events: threading.Event) -> None:
        super().__init__()
        self._events = events

    def is_set(self) -> bool:
        return any(event.is_set() for event in self._events)
