"""When to try a request again, and the deadline of a whole call. No I/O.

The sync and async senders ask an :class:`Attempts` what to do after each failure or answer
and wait (or not) as it says; they differ only in how they wait.

* A numeric ``timeout`` bounds a non-streaming call as a whole: connecting, every retry and
  every wait between them, and reading the answer. A ``Retry-After`` that would end past that
  deadline is not waited for: the answer is raised, ``retry_after`` set.
* Streams keep the timeout between two chunks (a slow but steady generation is never cut),
  and so do calls given an ``httpx.Timeout``.
* Only what is safe is retried: failures where the request never reached the server, and
  429/503 answers when the body can be sent again. A ``Retry-After`` longer than
  ``MAX_RETRY_AFTER`` is never waited for.
"""

from __future__ import annotations

import random
import time
from typing import Any

import httpx

from .._errors import parse_retry_after

__all__ = ["MAX_BACKOFF", "MAX_RETRY_AFTER", "Attempts", "retry_delay"]

MAX_BACKOFF = 8.0
MAX_RETRY_AFTER = 60.0
RETRY_STATUSES = frozenset({429, 503})
_PHASES = ("connect", "read", "write", "pool")


def retry_delay(attempt: int, retry_after: float | None) -> float:
    """Seconds to wait before try ``attempt + 1``: the server's ``Retry-After`` when it sent
    one, else exponential backoff with jitter (so that clients do not retry in lockstep)."""
    if retry_after is not None:
        return retry_after
    backoff = min(MAX_BACKOFF, 0.5 * 2**attempt)
    return float(backoff * (0.5 + random.random() / 2))


def replayable(request: httpx.Request) -> bool:
    # A body read from a file or an iterator is consumed by the first attempt.
    return isinstance(request.stream, httpx.ByteStream)


def _reached_the_server(exc: BaseException) -> bool:
    # Only failures where the request never reached the server are safe to repeat.
    return not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)


class Attempts:
    """The tries of one request: counts them, keeps the call's deadline, says what to do."""

    __slots__ = ("attempt", "deadline", "replayable", "retries", "total")

    def __init__(self, request: httpx.Request, retries: int, total: float | None) -> None:
        self.attempt = 0
        self.retries = retries
        self.replayable = replayable(request)
        self.total = total
        """The whole call's time limit in seconds, or None (per-phase timeouts only)."""
        self.deadline = None if total is None else time.monotonic() + total

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def expired(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def bound(self, request: httpx.Request) -> None:
        """Cap every timeout of ``request`` at the time left (each try starts later)."""
        remaining = self.remaining()
        if remaining is None:
            return
        remaining = max(remaining, 0.001)
        timeouts: dict[str, Any] = dict(request.extensions.get("timeout", {}))
        for phase in _PHASES:
            current = timeouts.get(phase)
            timeouts[phase] = remaining if current is None else min(current, remaining)
        request.extensions["timeout"] = timeouts

    def _fits(self, delay: float) -> bool:
        remaining = self.remaining()
        return remaining is None or delay < remaining

    def wait_after_error(self, exc: BaseException) -> float | None:
        """Seconds to wait before trying again after ``exc``, or None to give up."""
        if self.attempt >= self.retries or _reached_the_server(exc):
            return None
        delay = retry_delay(self.attempt, None)
        if not self._fits(delay):
            return None
        self.attempt += 1
        return delay

    def wait_after_answer(self, response: httpx.Response) -> float | None:
        """Seconds to wait before trying again after an answer, or None to keep the answer."""
        if (
            response.status_code not in RETRY_STATUSES
            or self.attempt >= self.retries
            or not self.replayable
        ):
            return None
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if retry_after is not None and retry_after > MAX_RETRY_AFTER:
            return None  # the caller decides whether to wait that long (``retry_after``)
        delay = retry_delay(self.attempt, retry_after)
        if not self._fits(delay):
            return None
        self.attempt += 1
        return delay
