"""Runners, queues and keep-alive.

* One runner (a loaded llama.cpp model) per model name; a request for a model that is loaded
  with different load options (``num_ctx``, ``num_batch``, ``num_thread``, ``num_parallel``...)
  or from a different blob waits for the old runner to go idle and replaces it.
* A runner serves up to ``num_parallel`` requests at once (``OLLAMA_NUM_PARALLEL``), batched
  together by the engine; more wait their turn in arrival order. At most one runner per
  ``num_thread`` CPUs computes at a time, and a runner that keeps receiving requests lets one
  waiting for another model go next (see :mod:`.turns`).
* At most ``max_loaded`` runners stay loaded; loading another first unloads the idle runner
  that expires soonest, or waits for one to become idle.
* Requests waiting for a runner or for their turn count against ``max_queue``; beyond it the
  server answers 503 as Ollama does.
* When a runner's last request ends, it expires after that request's ``keep_alive``
  (0: at once; negative: never).

All bookkeeping happens on the event loop; only loading, unloading and compute run in threads.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from .engine import LoadOptions, Runner
from .store import StoredModel
from .turns import Turns
from .wire import FOREVER_NS

__all__ = [
    "DEFAULT_KEEP_ALIVE_NS",
    "Lease",
    "LoadedModel",
    "QueueFullError",
    "Scheduler",
    "default_max_loaded",
]

log = logging.getLogger("ollamakit.server")

DEFAULT_KEEP_ALIVE_NS = 5 * 60 * 1_000_000_000
QUEUE_FULL_MESSAGE = "server busy, please try again.  maximum pending requests exceeded"

RunnerFactory = Callable[[StoredModel, LoadOptions], Runner]


class QueueFullError(Exception):
    """Too many requests are waiting (``OLLAMA_MAX_QUEUE``)."""

    def __init__(self) -> None:
        super().__init__(QUEUE_FULL_MESSAGE)


def default_max_loaded() -> int:
    """Ollama's CPU default is 3 loaded models. Each runner here holds its KV cache and compute
    buffers in RAM (weights are shared through the page cache), so machines with less than
    8 GiB keep a single model loaded."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1
    return 3 if total >= 8 * 1024**3 else 1


@dataclass(eq=False)
class LoadedModel:
    key: str
    model: StoredModel
    load: LoadOptions
    runner: Runner | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    error: BaseException | None = None
    refs: int = 0
    keep_alive_ns: int = DEFAULT_KEEP_ALIVE_NS
    expires_at_ns: int = 0
    timer: asyncio.TimerHandle | None = None
    retiring: bool = False
    load_ns: int = 0

    @property
    def slots(self) -> int:
        """Requests the runner serves at once (decided when it loaded)."""
        if self.runner is not None:
            return self.runner.num_parallel
        return max(1, self.load.num_parallel)

    @property
    def weights(self) -> tuple[Any, ...]:
        """What the runner was loaded from; a change (a re-created model) needs a reload."""
        return (self.model.model_path, *self.model.adapter_paths)


@dataclass(eq=False)
class Lease:
    """A request's hold on a loaded runner; release it exactly once."""

    scheduler: Scheduler
    loaded: LoadedModel
    keep_alive_ns: int | None
    load_ns: int
    computing: bool = False
    released: bool = False

    @property
    def runner(self) -> Runner:
        runner = self.loaded.runner
        if runner is None:
            raise RuntimeError("runner is not loaded")
        return runner

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.scheduler._release(self)


class Scheduler:
    def __init__(
        self,
        *,
        max_loaded: int | None = None,
        max_queue: int = 512,
        default_keep_alive_ns: int = DEFAULT_KEEP_ALIVE_NS,
        compute_slots: int = 1,
        runner_factory: RunnerFactory,
    ) -> None:
        self.max_loaded = max(1, max_loaded if max_loaded else default_max_loaded())
        self.max_queue = max(1, max_queue)
        self.default_keep_alive_ns = default_keep_alive_ns
        self._factory = runner_factory
        self._loaded: dict[str, LoadedModel] = {}
        self._cond = asyncio.Condition()
        self._turns: Turns[LoadedModel] = Turns(compute_slots)
        self._pending = 0
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()

    # -- public -----------------------------------------------------------------------------

    @staticmethod
    def key_for(model: StoredModel) -> str:
        return str(model.name).lower()

    def check_capacity(self) -> None:
        """Raise :class:`QueueFullError` when no more requests may wait."""
        if self._pending >= self.max_queue:
            raise QueueFullError

    async def acquire(
        self,
        model: StoredModel,
        load: LoadOptions,
        keep_alive_ns: int | None,
        *,
        compute: bool = True,
    ) -> Lease:
        """Wait for ``model`` to be loaded (loading it if needed) and, when ``compute``, for
        this request's turn on it (one of its ``num_parallel`` slots). Raises
        :class:`QueueFullError` at once when too many requests are already waiting."""
        self.check_capacity()
        self._pending += 1
        loaded: LoadedModel | None = None
        try:
            loaded, load_ns = await self._get_loaded(model, load)
            lease = Lease(self, loaded, keep_alive_ns, load_ns)
            if compute:
                await self._turns.enter(loaded)
                lease.computing = True
            return lease
        except BaseException:
            if loaded is not None:
                loaded.refs -= 1
                self._after_idle(loaded, keep_alive_ns)
            raise
        finally:
            self._pending -= 1

    async def unload(self, model: StoredModel) -> None:
        """Unload now if idle, else as soon as the running requests finish."""
        key = self.key_for(model)
        loaded = self._loaded.get(key)
        if loaded is None:
            return
        loaded.keep_alive_ns = 0
        if loaded.refs == 0:
            async with self._cond:
                await self._unload_locked(loaded)
                self._cond.notify_all()

    def running(self) -> list[LoadedModel]:
        """Loaded runners, longest remaining time first (``/api/ps`` order)."""
        ready = [item for item in self._loaded.values() if item.runner is not None]
        return sorted(ready, key=self._remaining_ns, reverse=True)

    def expires_at_ns(self, loaded: LoadedModel) -> int:
        """Wall-clock ns when the runner expires (while in use: now + its keep-alive)."""
        keep = loaded.keep_alive_ns
        if loaded.refs > 0 or not loaded.expires_at_ns:
            if keep < 0:
                return time.time_ns() + FOREVER_NS
            return time.time_ns() + keep
        if keep < 0:
            return time.time_ns() + FOREVER_NS
        return loaded.expires_at_ns

    async def close(self) -> None:
        """Unload idle runners at shutdown. A runner still generating is left to the process
        exit: freeing it under the worker thread would crash inside llama.cpp."""
        self._closing = True
        async with self._cond:
            for loaded in list(self._loaded.values()):
                if loaded.refs == 0:
                    await self._unload_locked(loaded)

    # -- internals --------------------------------------------------------------------------

    def _remaining_ns(self, loaded: LoadedModel) -> int:
        return self.expires_at_ns(loaded) - time.time_ns()

    async def _get_loaded(self, model: StoredModel, load: LoadOptions) -> tuple[LoadedModel, int]:
        key = self.key_for(model)
        created = False
        async with self._cond:
            while True:
                if self._closing:
                    raise RuntimeError("server is shutting down")
                current = self._loaded.get(key)
                if current is not None and not current.retiring:
                    weights = (model.model_path, *model.adapter_paths)
                    same = current.load == load and current.weights == weights
                    if same:
                        current.refs += 1
                        current.model = model
                        self._cancel_timer(current)
                        break
                    current.retiring = True
                if current is not None:
                    if current.refs == 0:
                        await self._unload_locked(current)
                        continue
                    await self._cond.wait()
                    continue
                if len(self._loaded) >= self.max_loaded:
                    victim = self._pick_victim()
                    if victim is None:
                        await self._cond.wait()
                        continue
                    await self._unload_locked(victim)
                    continue
                current = LoadedModel(
                    key=key,
                    model=model,
                    load=load,
                    refs=1,
                    keep_alive_ns=self.default_keep_alive_ns,
                )
                self._loaded[key] = current
                created = True
                self._spawn(self._load(current))
                break
        await current.ready.wait()
        if current.error is not None:
            raise current.error
        return current, current.load_ns if created else 0

    async def _load(self, loaded: LoadedModel) -> None:
        started = time.perf_counter_ns()
        try:
            loaded.runner = await asyncio.to_thread(self._factory, loaded.model, loaded.load)
        except BaseException as exc:
            loaded.error = exc
            async with self._cond:
                if self._loaded.get(loaded.key) is loaded:
                    del self._loaded[loaded.key]
                self._cond.notify_all()
            log.error("loading %s failed: %s", loaded.model.short_name, exc)
        else:
            loaded.load_ns = time.perf_counter_ns() - started
            log.info(
                "loaded %s in %.2fs (num_ctx=%d, threads=%d)",
                loaded.model.short_name,
                loaded.load_ns / 1e9,
                loaded.load.num_ctx,
                loaded.load.num_thread,
            )
        finally:
            loaded.ready.set()

    def _pick_victim(self) -> LoadedModel | None:
        idle = [item for item in self._loaded.values() if item.refs == 0 and item.runner]
        if not idle:
            return None
        return min(idle, key=self._remaining_ns)

    async def _unload_locked(self, loaded: LoadedModel) -> None:
        self._cancel_timer(loaded)
        if self._loaded.get(loaded.key) is loaded:
            del self._loaded[loaded.key]
        runner, loaded.runner = loaded.runner, None
        if runner is not None:
            await asyncio.to_thread(runner.close)
            log.info("unloaded %s", loaded.model.short_name)

    def _cancel_timer(self, loaded: LoadedModel) -> None:
        if loaded.timer is not None:
            loaded.timer.cancel()
            loaded.timer = None
        loaded.expires_at_ns = 0

    def _release(self, lease: Lease) -> None:
        loaded = lease.loaded
        if lease.computing:
            self._turns.leave(loaded)
            lease.computing = False
        loaded.refs -= 1
        self._after_idle(loaded, lease.keep_alive_ns)

    def _after_idle(self, loaded: LoadedModel, keep_alive_ns: int | None) -> None:
        if keep_alive_ns is not None:
            loaded.keep_alive_ns = keep_alive_ns
        loop = asyncio.get_running_loop()
        if loaded.refs > 0:
            return
        keep = loaded.keep_alive_ns
        self._cancel_timer(loaded)
        if keep == 0 or loaded.retiring:
            self._spawn(self._expire(loaded))
            return
        if keep > 0:
            loaded.expires_at_ns = time.time_ns() + keep
            loaded.timer = loop.call_later(keep / 1e9, self._on_timer, loaded)
        self._spawn(self._notify())

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        # The loop keeps only weak references to tasks; hold them until they finish.
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_timer(self, loaded: LoadedModel) -> None:
        loaded.timer = None
        self._spawn(self._expire(loaded))

    async def _expire(self, loaded: LoadedModel) -> None:
        async with self._cond:
            if loaded.refs == 0 and self._loaded.get(loaded.key) is loaded:
                await self._unload_locked(loaded)
            self._cond.notify_all()

    async def _notify(self) -> None:
        async with self._cond:
            self._cond.notify_all()


def runner_memory_estimate(loaded: LoadedModel) -> int:
    """Bytes a runner holds: the buffers llama.cpp allocated for it (weights, KV cache for
    every slot, compute and output buffers, and the embedding context once used), else the
    size of the weights."""
    runner = loaded.runner
    measured = getattr(runner, "memory_bytes", 0) if runner is not None else 0
    if measured:
        return int(measured)
    return loaded.model.model_layer.size if loaded.model.model_layer else 0
