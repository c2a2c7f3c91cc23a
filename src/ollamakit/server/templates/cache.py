"""Compiled templates cached by source, bounded by the total size of the sources."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

_T = TypeVar("_T")


class SourceCache(Generic[_T]):
    """Compiled templates by source, least recently used first out, bounded by the total size
    of their sources rather than by their number: a compiled template takes about 160 bytes
    of memory and two objects per source byte, so a count bound would let a few large ones
    hold hundreds of megabytes and make every garbage collection long. ``compile`` checks
    the source (its size included) and compiles it; it runs outside the lock."""

    def __init__(self, compile: Callable[[str], _T], max_bytes: int) -> None:
        self.compile = compile
        self.max_bytes = max_bytes
        self.size = 0
        self._items: OrderedDict[str, _T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, source: str) -> _T:
        with self._lock:
            if source in self._items:
                self._items.move_to_end(source)
                return self._items[source]
        compiled = self.compile(source)
        with self._lock:
            if source not in self._items and len(source) <= self.max_bytes:
                self._items[source] = compiled
                self.size += len(source)
                while self.size > self.max_bytes:
                    evicted, _ = self._items.popitem(last=False)
                    self.size -= len(evicted)
        return compiled

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.size = 0
