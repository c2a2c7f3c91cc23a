"""Whose turn it is to compute: slots per runner and runners per CPU, served in order.

A loaded runner serves up to ``slots`` requests at once (``OLLAMA_NUM_PARALLEL``), batched
together. On top of that at most ``capacity`` runners compute at the same time (one per
``num_thread`` CPUs): two llama.cpp thread pools on the same cores slow each other down far
more than they gain.

Waiting requests are served in arrival order, with one exception that keeps the CPU busy: a
request for a runner that is already computing may pass requests queued for a slot on some
other full runner. It may not pass a request waiting for the CPU itself, so a model that keeps
receiving requests drains and lets another model have its turn.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, Protocol, TypeVar

__all__ = ["Turns"]


class _HasSlots(Protocol):
    @property
    def slots(self) -> int: ...


K = TypeVar("K", bound=_HasSlots)


class Turns(Generic[K]):
    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self._computing: dict[K, int] = {}
        self._waiting: deque[tuple[K, asyncio.Future[None]]] = deque()

    def active(self, key: K) -> int:
        """Requests of ``key`` holding a turn."""
        return self._computing.get(key, 0)

    async def enter(self, key: K) -> None:
        """Wait for a turn on ``key``'s runner; pair with :meth:`leave`."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((key, future))
        self._wake()
        try:
            await future
        except BaseException:
            if future.done() and not future.cancelled():
                self.leave(key)  # granted just as the caller gave up
            else:
                future.cancel()
                self._wake()
            raise

    def leave(self, key: K) -> None:
        count = self._computing[key] - 1
        if count:
            self._computing[key] = count
        else:
            del self._computing[key]
        self._wake()

    def _wake(self) -> None:
        cpu_taken = False  # someone earlier waits for the CPU: nobody may pass them
        kept: deque[tuple[K, asyncio.Future[None]]] = deque()
        for key, future in self._waiting:
            if future.done():
                continue
            count = self._computing.get(key, 0)
            if count:
                granted = not cpu_taken and count < key.slots
            else:
                granted = not cpu_taken and len(self._computing) < self.capacity
                cpu_taken = cpu_taken or not granted
            if granted:
                self._computing[key] = count + 1
                future.set_result(None)
            else:
                kept.append((key, future))
        self._waiting = kept
