"""The service every API surface calls: generation (plan, then run), embeddings, loaded
models, and the store operations that report progress (pull, push, create)."""

from __future__ import annotations

import asyncio
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from ...names import ModelName
from .. import sizing
from ..create import check_create_request, create_model
from ..demo import install_demo_model, is_demo_name
from ..engine import EmbedResult, LoadOptions, PromptTooLongError, Runner, l2_normalise
from ..gguf import GGUFInfo
from ..scheduler import Scheduler, runner_memory_estimate
from ..settings import ServerConfig
from ..store import StoredModel
from ..validate import BadRequest, check_registry_name
from .catalog import Catalog
from .events import Done
from .generation import Generation, GenerationPlan
from .jobs import Job
from .planning import plan_chat, plan_generate
from .prompts import starts_with_bos
from .requests import ChatRequest, EmbedRequest, GenerateRequest

__all__ = ["Embeddings", "RunningModel", "Service"]


@dataclass
class Embeddings:
    vectors: list[list[float]]
    prompt_eval_count: int = 0
    load_ns: int = 0
    total_ns: int = 0


@dataclass
class RunningModel:
    """A loaded model as ``/api/ps`` lists it; ``expires_at_ns`` None means never."""

    model: StoredModel
    size: int
    expires_at_ns: int | None
    context_length: int


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class Service:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.catalog = Catalog(config)
        self._scheduler: Scheduler | None = None

    async def start(self) -> None:
        self._scheduler = Scheduler(
            max_loaded=self.config.max_loaded,
            max_queue=self.config.max_queue,
            default_keep_alive_ns=self.config.keep_alive_ns,
            compute_slots=max(1, _available_cpus() // max(1, self.config.num_thread)),
            runner_factory=self._make_runner,
        )

    async def close(self) -> None:
        if self._scheduler is not None:
            await self._scheduler.close()

    @property
    def scheduler(self) -> Scheduler:
        if self._scheduler is None:
            raise RuntimeError("server not started")
        return self._scheduler

    def _make_runner(self, model: StoredModel, load: LoadOptions) -> Runner:
        if model.model_path is None:
            raise BadRequest(f"model '{model.short_name}' has no weights", 500)
        gguf = self.catalog.gguf(model)
        pooling = gguf is not None and gguf.arch_value("pooling_type") is not None
        adapter = model.adapter_paths[0] if model.adapter_paths else None
        if load.num_parallel <= 0:
            load = replace(load, num_parallel=self._default_parallel(model, gguf, load))
        return Runner(model.model_path, load, pooling=pooling, adapter=adapter)

    @staticmethod
    def _default_parallel(model: StoredModel, gguf: GGUFInfo | None, load: LoadOptions) -> int:
        """Ollama's rule: 4 slots when they fit in the memory available now, else 1."""
        needed = 0
        if gguf is not None and model.model_layer is not None:
            needed = sizing.estimate_bytes(
                gguf,
                model.model_layer.size,
                num_ctx=load.num_ctx,
                num_parallel=sizing.DEFAULT_PARALLEL,
                num_batch=load.num_batch,
                kv_cache_type=load.kv_cache_type,
            )
        return sizing.default_num_parallel(needed, sizing.available_memory())

    # -- generation -----------------------------------------------------------------------

    async def plan_chat(self, request: ChatRequest) -> GenerationPlan:
        return await plan_chat(self.catalog, request)

    async def plan_generate(self, request: GenerateRequest) -> GenerationPlan:
        return await plan_generate(self.catalog, request)

    async def load_only(self, plan: GenerationPlan) -> Done:
        """A request without a prompt: load the model, or unload it for ``keep_alive`` 0."""
        if plan.keep_alive_ns == 0:
            await self.scheduler.unload(plan.model)
            return Done("unload")
        lease = await self.scheduler.acquire(plan.model, plan.load, plan.keep_alive_ns)
        lease.release()
        return Done("load")

    @staticmethod
    async def render_only(plan: GenerationPlan) -> str:
        """``_debug_render_only``: the prompt the model would see, without running it (in a
        worker: a long chat takes a while to render; ``plan.cancel`` stops it)."""
        prompt = plan.prompt
        return "" if prompt is None else await asyncio.to_thread(prompt.render, None)

    async def count_tokens(self, plan: GenerationPlan) -> int:
        """The tokens of the prompt ``plan`` would give the model, rendered with its template
        and tokenized by it (the model is loaded if it is not). Tokenizing only reads the
        vocabulary, so it does not wait for the model's turn; ``plan.cancel`` stops it."""
        prompt = plan.prompt
        if prompt is None:
            return 0
        lease = await self.scheduler.acquire(
            plan.model, plan.load, plan.keep_alive_ns, compute=False
        )

        def work(job: Job) -> int:
            runner = lease.runner
            text = prompt.render(runner)
            return len(runner.tokenize(text, add_bos=not starts_with_bos(runner, text)))

        job = Job(plan.cancel)
        job.start(work, lease)
        count: int = await job.result()
        return count

    async def generate(self, plan: GenerationPlan) -> Generation:
        """Wait for the model (and this request's turn on it) and start generating."""
        lease = await self.scheduler.acquire(plan.model, plan.load, plan.keep_alive_ns)
        return Generation(plan, lease)

    # -- embeddings -----------------------------------------------------------------------

    async def embed(self, request: EmbedRequest, cancel: threading.Event) -> Embeddings:
        """``/api/embed``: L2-normalised vectors, cut to ``dimensions`` when asked."""
        started = time.perf_counter_ns()
        text = request.model
        model = await self.catalog.find(
            text, empty_status=404, empty_message=f"model '{text}' not found"
        )
        if not request.inputs:
            await self._load(model, request)
            return Embeddings([])
        result, load_ns = await self._embed(model, request, cancel)
        vectors = []
        for vector in result.vectors:
            normalised = l2_normalise(vector)
            if 0 < request.dimensions < len(normalised):
                normalised = l2_normalise(normalised[: request.dimensions])
            vectors.append(normalised)
        return Embeddings(vectors, result.prompt_tokens, load_ns, time.perf_counter_ns() - started)

    async def embedding(self, request: EmbedRequest, cancel: threading.Event) -> list[float]:
        """``/api/embeddings`` (the older route): one prompt, the raw vector; a prompt that
        does not fit is a 500 there."""
        model = await self.catalog.find(
            request.model, empty_status=400, empty_message="model is required"
        )
        if not request.inputs or not request.inputs[0]:
            await self._load(model, request)
            return []
        try:
            result, _ = await self._embed(model, request, cancel)
        except BadRequest as exc:
            raise BadRequest(exc.message, 500) from None
        return result.vectors[0]

    async def _load(self, model: StoredModel, request: EmbedRequest) -> None:
        load = self.catalog.load_options(model, self.catalog.options(model, request.options))
        keep_alive = self.catalog.keep_alive(request.keep_alive_ns)
        lease = await self.scheduler.acquire(model, load, keep_alive, compute=False)
        lease.release()

    async def _embed(
        self, model: StoredModel, request: EmbedRequest, cancel: threading.Event
    ) -> tuple[EmbedResult, int]:
        load = self.catalog.load_options(model, self.catalog.options(model, request.options))
        keep_alive = self.catalog.keep_alive(request.keep_alive_ns)
        lease = await self.scheduler.acquire(model, load, keep_alive)
        job = Job(cancel)
        texts, truncate = request.inputs, request.truncate
        job.start(lambda job: lease.runner.embed(texts, truncate=truncate), lease)
        try:
            result: EmbedResult = await job.result()
        except PromptTooLongError as exc:
            raise BadRequest(str(exc), 400) from None
        if not all(math.isfinite(x) for vector in result.vectors for x in vector):
            raise BadRequest("embedding contains NaN or Inf values", 500)
        return result, lease.load_ns

    # -- loaded models --------------------------------------------------------------------

    def running(self) -> list[RunningModel]:
        """Loaded models, longest remaining time first (``/api/ps`` order)."""
        out = []
        for loaded in self.scheduler.running():
            forever = loaded.keep_alive_ns < 0
            out.append(
                RunningModel(
                    model=loaded.model,
                    size=runner_memory_estimate(loaded),
                    expires_at_ns=None if forever else self.scheduler.expires_at_ns(loaded),
                    context_length=loaded.load.num_ctx,
                )
            )
        return out

    async def delete(self, text: str) -> None:
        name, model = await self.catalog.existing(text)
        if model is not None:
            await self.scheduler.unload(model)
        await self.catalog.delete(name, text)

    # -- store operations with progress ---------------------------------------------------

    def pull(self, text: str, *, insecure: bool) -> Job:
        """A started job reporting ``("item", progress)`` events."""
        name = ModelName.parse(text)
        if not text or not name.is_valid:
            raise BadRequest("invalid model name")
        check_registry_name(name)
        if is_demo_name(name):
            store = self.catalog.store
            return self._progress(
                lambda job: install_demo_model(store, lambda item: job.put("item", item), name)
            )
        # Imported here: httpx is only needed once a registry is involved.
        from ..registry import pull_job

        return self._progress(pull_job(self.catalog.store, name, insecure=insecure))

    def push(self, body: dict[str, Any]) -> Job:
        from ..registry import push_job, push_name

        insecure = bool(body.get("insecure"))
        name = push_name(body)
        check_registry_name(name)
        return self._progress(push_job(self.catalog.store, name, insecure=insecure))

    async def create(self, body: dict[str, Any]) -> Job:
        # Checking parses the template: in a worker.
        plan = await asyncio.to_thread(check_create_request, body)
        store, threads = self.catalog.store, self.config.num_thread

        def work(job: Job) -> None:
            report = lambda item: job.put("item", item)  # noqa: E731
            create_model(store, plan, report, cancel=job.cancel, threads=threads)

        return self._progress(work)

    @staticmethod
    def _progress(work: Callable[[Job], Any]) -> Job:
        job = Job()
        job.start(work)
        return job
