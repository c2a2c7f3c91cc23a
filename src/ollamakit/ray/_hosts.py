"""Which host answers a request, and what happens when one fails.

Every actor holds one :class:`~ollamakit.AsyncClient` per host and sends each request to the
host with the fewest of its own requests in flight; ties go round-robin, from a random place in
the list so that actors do not all start on the same host. A host that fails at the transport
level (refused, reset, timed out) is set aside for ``cooldown`` seconds, so the rows after it go
to the others at once.

Retries are opt-in (``retries=N``): a request that failed for a reason another attempt may not
meet (transport errors, 429, 500, 503) is sent again, to a host it has not tried yet if there is
one, at once when that host is healthy and after a growing pause otherwise. Anything else (a
bad request, an unknown model, output that does not parse) fails the row at once.

The pool itself does no I/O; :class:`Failover` does the sending.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .. import (
    AsyncClient,
    InternalServerError,
    OllamaError,
    RateLimitError,
    ServerBusyError,
    TransportError,
)

__all__ = ["Answer", "Failover", "HostPool", "RowError", "retryable"]

T = TypeVar("T")

_RETRYABLE = (TransportError, ServerBusyError, RateLimitError, InternalServerError)
_FIRST_PAUSE = 0.5
_MAX_PAUSE = 8.0


def retryable(exc: BaseException) -> bool:
    """Whether another attempt, possibly on another host, may succeed."""
    return isinstance(exc, _RETRYABLE)


@dataclass
class _Host:
    name: str | None
    in_flight: int = 0
    down_until: float = 0.0


class HostPool:
    """The hosts of one actor: load (requests in flight) and health, and the choice of a host.

    ``None`` as a host means the client's default: ``OLLAMA_HOST`` on the node the actor runs
    on, else ``127.0.0.1:11434``.
    """

    def __init__(
        self,
        hosts: Sequence[str | None],
        *,
        cooldown: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        start: int | None = None,
    ) -> None:
        if not hosts:
            raise ValueError("hosts is empty: give at least one host, or None for the local one")
        self._hosts = [_Host(host) for host in hosts]
        self._cooldown = cooldown
        self._clock = clock
        # The host whose turn it is when loads are equal; moves on after every choice.
        self._turn = random.randrange(len(hosts)) if start is None else start % len(hosts)

    def __len__(self) -> int:
        return len(self._hosts)

    def name(self, index: int) -> str | None:
        return self._hosts[index].name

    def in_flight(self, index: int) -> int:
        return self._hosts[index].in_flight

    def healthy(self, index: int) -> bool:
        return self._hosts[index].down_until <= self._clock()

    def choose(self, tried: Collection[int] = ()) -> int:
        """The host for the next attempt: one not ``tried`` yet if any is left, a healthy one if
        any is, then the least loaded; with every host down, the one back soonest."""
        every = range(len(self._hosts))
        candidates = [index for index in every if index not in tried] or list(every)
        healthy = [index for index in candidates if self.healthy(index)]
        if not healthy:
            return min(candidates, key=lambda index: (self._hosts[index].down_until, index))
        count = len(self._hosts)
        chosen = min(
            healthy,
            key=lambda index: (self._hosts[index].in_flight, (index - self._turn) % count),
        )
        self._turn = (chosen + 1) % count
        return chosen

    def started(self, index: int) -> None:
        self._hosts[index].in_flight += 1

    def finished(self, index: int, error: BaseException | None = None) -> None:
        host = self._hosts[index]
        host.in_flight -= 1
        if error is None:
            host.down_until = 0.0
        elif isinstance(error, TransportError):
            host.down_until = self._clock() + self._cooldown


@dataclass
class Answer(Generic[T]):
    """A request's result, the host that gave it and how many attempts it took."""

    result: T
    host: int
    attempts: int


class RowError(Exception):
    """A request that failed for good: the last error, how many attempts were made and the
    host of the last one."""

    def __init__(self, error: BaseException, attempts: int, host: int) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.error = error
        self.attempts = attempts
        self.host = host


def _pause(attempt: int, error: BaseException) -> float:
    """The wait before retrying on a host that is not known to be healthy."""
    retry_after: object = getattr(error, "retry_after", None)
    if isinstance(retry_after, (int, float)) and retry_after >= 0:
        return min(float(retry_after), _MAX_PAUSE)
    return min(_FIRST_PAUSE * 2.0 ** (attempt - 1), _MAX_PAUSE)


class Failover:
    """Sends requests through one actor's clients, with the pool's choice of host, at most
    ``max_in_flight`` at a time, retrying as the module docstring says."""

    def __init__(
        self,
        pool: HostPool,
        *,
        max_in_flight: int,
        retries: int,
        client_options: dict[str, Any],
    ) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, not {max_in_flight}")
        if retries < 0:
            raise ValueError(f"retries must be 0 or more, not {retries}")
        self.pool = pool
        self._retries = retries
        self._client_options = client_options
        self._clients: list[AsyncClient | None] = [None] * len(pool)
        self._slots = asyncio.Semaphore(max_in_flight)

    def _client(self, index: int) -> AsyncClient:
        client = self._clients[index]
        if client is None:
            client = AsyncClient(self.pool.name(index), **self._client_options)
            self._clients[index] = client
        return client

    def base_url(self, index: int) -> str:
        """The address of host ``index`` as its client resolved it (never with credentials)."""
        return self._client(index).base_url

    async def send(self, request: Callable[[AsyncClient], Awaitable[T]]) -> Answer[T]:
        """``request`` on a client, and which host answered after how many attempts;
        :class:`RowError` when every allowed attempt failed."""
        tried: list[int] = []
        async with self._slots:
            while True:
                index = self.pool.choose(tried)
                self.pool.started(index)
                try:
                    result = await request(self._client(index))
                except OllamaError as exc:
                    self.pool.finished(index, exc)
                    tried.append(index)
                    if len(tried) > self._retries or not retryable(exc):
                        raise RowError(exc, len(tried), index) from exc
                    following = self.pool.choose(tried)
                    if following in tried or not self.pool.healthy(following):
                        await asyncio.sleep(_pause(len(tried), exc))
                    continue
                except BaseException:
                    self.pool.finished(index)
                    raise
                self.pool.finished(index)
                return Answer(result, index, len(tried) + 1)

    async def close(self) -> None:
        for client in self._clients:
            if client is not None:
                await client.close()
        self._clients = [None] * len(self.pool)
