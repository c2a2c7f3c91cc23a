"""Running coroutines together where the first failure must stop the others."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable

__all__ = ["all_or_nothing"]


async def all_or_nothing(work: Iterable[Awaitable[None]]) -> None:
    """Run ``work`` concurrently; the first failure cancels the rest before it propagates,
    so that nothing outlives the call (Go's errgroup)."""
    tasks = [asyncio.ensure_future(item) for item in work]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
