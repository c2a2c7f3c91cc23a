"""The HTTP layer: Ollama's native routes on Starlette.

Each handler decodes and checks its body (``validate``), resolves the model in the store,
asks the scheduler for a runner and runs the blocking work in a thread (:class:`Job`), whose
results come back to the event loop through a queue. Errors found before the first byte is
sent are plain JSON errors with their status; errors after that are a final
``{"error": ...}`` NDJSON line, as Ollama does. A client that disconnects sets the job's
cancel flag, which the generation loop checks between tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import threading
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from .._version import __version__
from ..names import ModelName, split_source_suffix
from . import prompt as prompting
from .account import DEFAULT_CLOUD_URL, account_routes
from .create import check_create_request, create_model
from .demo import install_demo_model, is_demo_name
from .engine import (
    EmbedResult,
    GenerationResult,
    LoadOptions,
    OptionError,
    PromptTooLongError,
    Runner,
    SamplingOptions,
    default_threads,
    l2_normalise,
    parse_options,
    usable_threads,
)
from .gguf import GGUFInfo
from .grammar import make_grammar
from .middleware import (
    DEFAULT_MAX_BODY,
    BodyLimitMiddleware,
    ServerMiddleware,
    is_loopback_bind,
)
from .openai_compat import openai_routes
from .output import OutputShaper, Piece, ThinkingParser
from .scheduler import Lease, QueueFullError, Scheduler, runner_memory_estimate
from .show import list_models, show_model
from .store import (
    DigestError,
    Store,
    StoredModel,
    parse_digest,
)
from .toolcalls import ToolCallParser, tool_names
from .validate import (
    CHAT,
    COPY,
    CREATE,
    DELETE,
    EMBED,
    EMBEDDINGS,
    GENERATE,
    PULL,
    SHOW,
    BadRequest,
    decode_body,
    keep_alive_ns,
    think_value,
)
from .wire import FOREVER_NS, go_value, json_bytes, rfc3339, rfc3339_far_future, rfc3339_utc_now

if TYPE_CHECKING:
    from .templates import Limits

__all__ = ["ServerConfig", "create_app"]

log = logging.getLogger("ollamakit.server")

T = TypeVar("T")

JSON_TYPE = "application/json; charset=utf-8"
NDJSON_TYPE = "application/x-ndjson"


@dataclass
class ServerConfig:
    """Settings of one server instance (the package docstring lists their environment variables)."""

    models_dir: Path
    host: str = "127.0.0.1"
    port: int = 11434
    max_loaded: int | None = None
    max_queue: int = 512
    keep_alive_ns: int = 5 * 60 * 1_000_000_000
    num_ctx: int = 4096
    num_thread: int = field(default_factory=default_threads)
    origins: tuple[str, ...] = ()
    prune: bool | None = None
    max_body: int = DEFAULT_MAX_BODY
    cloud_url: str = DEFAULT_CLOUD_URL
    no_cloud: bool = False


# -- responses ----------------------------------------------------------------------------


def json_response(value: Any, status: int = 200) -> Response:
    return Response(json_bytes(value), status_code=status, media_type=JSON_TYPE)


def error_response(message: str, status: int) -> Response:
    return json_response({"error": message}, status)


def _line(value: Any) -> bytes:
    return json_bytes(value) + b"\n"


class NDJSONResponse(StreamingResponse):
    """A streamed NDJSON body that always runs ``on_close`` (which cancels the work behind
    it), whether the body finished, failed or the client went away."""

    def __init__(self, content: AsyncIterator[bytes], on_close: Callable[[], None]) -> None:
        super().__init__(content, media_type=NDJSON_TYPE)
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._on_close()


# -- worker jobs --------------------------------------------------------------------------


class Job:
    """Blocking work in a thread, reporting ``(kind, value)`` events to the event loop."""

    def __init__(self, cancel: threading.Event | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.cancel = cancel or threading.Event()

    def put(self, kind: str, value: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone at shutdown
            self.loop.call_soon_threadsafe(self.queue.put_nowait, (kind, value))

    def start(self, work: Callable[[Job], Any], lease: Lease | None = None) -> None:
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


async def _until_disconnect(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def _guarded(
    request: Request, awaitable: Awaitable[T], on_disconnect: Callable[[], None]
) -> T:
    """Await ``awaitable``; if the client disconnects first, call ``on_disconnect`` and keep
    waiting (the work winds down on its own and must still be awaited)."""
    work = asyncio.ensure_future(awaitable)
    watcher = asyncio.ensure_future(_until_disconnect(request))
    try:
        done, _ = await asyncio.wait({work, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if work not in done:
            on_disconnect()
        return await work
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await watcher


# -- helpers ------------------------------------------------------------------------------


def _error_status(exc: BaseException) -> int:
    if isinstance(exc, BadRequest):
        return exc.status
    if isinstance(exc, PromptTooLongError):
        return 400
    if isinstance(exc, QueueFullError):
        return 503
    return 500


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, BadRequest):
        return exc.message
    text = str(exc)
    return text or type(exc).__name__


def _metrics(
    out: dict[str, Any], result: GenerationResult | None, started_ns: int, load_ns: int
) -> None:
    out["total_duration"] = time.perf_counter_ns() - started_ns
    out["load_duration"] = load_ns
    if result is not None:
        out["prompt_eval_count"] = result.prompt_eval_count
        out["prompt_eval_duration"] = result.prompt_eval_ns
        out["eval_count"] = result.eval_count
        out["eval_duration"] = result.eval_ns
    for key in [
        key for key, value in out.items() if key.endswith(("_duration", "_count")) and not value
    ]:
        del out[key]


def _capability_name(text: str) -> str:
    return str(ModelName.parse(split_source_suffix(text)[0]))


def _grammar_source(value: Any) -> tuple[str, str] | None:
    """``format`` -> ("json", "") / ("schema", json text) / None; raises on other values."""
    if value is None or value == "":
        return None
    if value == "json":
        return ("json", "")
    if isinstance(value, dict):
        return ("schema", json_bytes(value).decode())
    quoted = go_value(json_bytes(value).decode(), sharp=True)  # Go's %q of the raw JSON
    raise BadRequest(
        f'invalid format: {quoted}; expected "json" or a valid JSON Schema object', 500
    )


def _make_grammar(spec: tuple[str, str] | None) -> Any:
    return make_grammar(spec)


# -- the server ---------------------------------------------------------------------------


class OllamaServer:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.store = Store(config.models_dir, prune=config.prune)
        self.scheduler: Scheduler | None = None

    async def startup(self) -> None:
        self.scheduler = Scheduler(
            max_loaded=self.config.max_loaded,
            max_queue=self.config.max_queue,
            default_keep_alive_ns=self.config.keep_alive_ns,
            compute_slots=max(1, _available_cpus() // max(1, self.config.num_thread)),
            runner_factory=self._make_runner,
        )

    async def shutdown(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.close()

    @property
    def sched(self) -> Scheduler:
        if self.scheduler is None:
            raise RuntimeError("server not started")
        return self.scheduler

    def _make_runner(self, model: StoredModel, load: LoadOptions) -> Runner:
        if model.model_path is None:
            raise BadRequest(f"model '{model.short_name}' has no weights", 500)
        gguf = self.store.model_gguf(model)
        pooling = gguf is not None and gguf.arch_value("pooling_type") is not None
        adapter = model.adapter_paths[0] if model.adapter_paths else None
        return Runner(model.model_path, load, pooling=pooling, adapter=adapter)

    # -- plumbing -------------------------------------------------------------------------

    async def _body(self, request: Request, spec: tuple[str, dict[str, str]]) -> dict[str, Any]:
        return decode_body(await request.body(), spec)

    async def _find(self, text: str, *, empty_status: int, empty_message: str) -> StoredModel:
        if not text:
            raise BadRequest(empty_message, empty_status)
        base, source = split_source_suffix(text)
        if source == "cloud" or base.endswith("-cloud"):
            raise BadRequest("cloud models are not supported by this server", 400)
        name = ModelName.parse(base)
        if not name.is_valid:
            raise BadRequest("invalid model name")
        model = await asyncio.to_thread(self.store.load, name)
        if model is None:
            raise BadRequest(f"model '{text}' not found", 404)
        return model

    def _gguf(self, model: StoredModel, *, verbose: bool = False) -> GGUFInfo | None:
        return self.store.model_gguf(model, verbose=verbose)

    def _load_options(self, model: StoredModel, options: dict[str, Any]) -> LoadOptions:
        gguf = self._gguf(model)
        num_ctx = options.get("num_ctx") or self.config.num_ctx
        trained = gguf.arch_value("context_length") if gguf is not None else None
        if isinstance(trained, int) and trained > 0:
            num_ctx = min(num_ctx, trained)
        num_ctx = max(num_ctx, 16)
        num_batch = max(1, min(int(options.get("num_batch") or 512), num_ctx))
        num_thread = usable_threads(int(options.get("num_thread") or self.config.num_thread))
        # Weights are read into memory unless the request asks for mmap: mapped pages can be
        # reclaimed while the model sits idle (this machine's proactive reclaim did), and
        # faulting them back made a 12-token prompt take anywhere from 30 ms to 3.6 s.
        use_mmap = options.get("use_mmap")
        return LoadOptions(
            num_ctx=num_ctx,
            num_batch=num_batch,
            num_thread=num_thread,
            use_mmap=bool(use_mmap),
        )

    def _keep_alive(self, body: dict[str, Any]) -> int:
        value = keep_alive_ns(body.get("keep_alive"))
        return self.config.keep_alive_ns if value is None else value

    # -- simple routes --------------------------------------------------------------------

    async def root(self, request: Request) -> Response:
        return PlainTextResponse("Ollama is running")

    async def version(self, request: Request) -> Response:
        return json_response({"version": __version__})

    async def tags(self, request: Request) -> Response:
        models = await asyncio.to_thread(list_models, self.store)
        return json_response({"models": models})

    async def ps(self, request: Request) -> Response:
        models = []
        for loaded in self.sched.running():
            model = loaded.model
            keep = loaded.keep_alive_ns
            if keep < 0:
                expires = rfc3339_far_future(time.time_ns(), FOREVER_NS)
            else:
                expires = rfc3339(self.sched.expires_at_ns(loaded))
            models.append(
                {
                    "name": model.short_name,
                    "model": model.short_name,
                    "size": runner_memory_estimate(loaded),
                    "digest": model.digest,
                    "details": model.details(),
                    "expires_at": expires,
                    "size_vram": 0,
                    "context_length": loaded.load.num_ctx,
                }
            )
        return json_response({"models": models})

    # -- show -----------------------------------------------------------------------------

    async def show(self, request: Request) -> Response:
        body = await self._body(request, SHOW)
        text = body.get("model") or body.get("name") or ""
        model = await self._find(text, empty_status=400, empty_message="model is required")
        verbose = bool(body.get("verbose"))
        return json_response(await asyncio.to_thread(show_model, self.store, model, body, verbose))

    # -- copy / delete --------------------------------------------------------------------

    async def copy(self, request: Request) -> Response:
        body = await self._body(request, COPY)
        source_text = body.get("source", "")
        destination_text = body.get("destination", "")
        source = ModelName.parse(source_text)
        if not source_text or not source.is_valid:
            raise BadRequest(f'source "{source_text}" is invalid')
        destination = ModelName.parse(destination_text)
        if not destination_text or not destination.is_valid:
            raise BadRequest(f'destination "{destination_text}" is invalid')
        if not await asyncio.to_thread(self.store.copy, source, destination):
            raise BadRequest(f'model "{source_text}" not found', 404)
        return Response(b"", status_code=200)

    async def delete(self, request: Request) -> Response:
        body = await self._body(request, DELETE)
        text = body.get("model") or body.get("name") or ""
        name = ModelName.parse(text)
        if not text or not name.is_valid:
            raise BadRequest(f'name "{text}" is invalid')
        existing = await asyncio.to_thread(self.store.load, name)
        if existing is None:
            raise BadRequest(f"model '{text}' not found", 404)
        await self.sched.unload(existing)
        if not await asyncio.to_thread(self.store.delete, name):
            raise BadRequest(f"model '{text}' not found", 404)
        return Response(b"", status_code=200)

    # -- blobs ----------------------------------------------------------------------------

    async def blob(self, request: Request) -> Response:
        raw = request.path_params["digest"]
        try:
            hexdigest = parse_digest(raw)
        except DigestError as exc:
            raise BadRequest(str(exc)) from None
        exists = self.store.has_blob(hexdigest)
        if request.method == "HEAD":
            return Response(b"", status_code=200 if exists else 404)
        if exists:
            return Response(b"", status_code=200)
        writer = self.store.blob_writer(f"sha256:{hexdigest}")
        try:
            async for chunk in request.stream():
                if chunk:
                    writer.write(chunk)
            if raw.lower() != f"sha256:{hexdigest}":
                actual = writer.hexdigest
                if actual == hexdigest:
                    # Ollama compares the parameter text exactly against "sha256:<hex>".
                    writer.abort()
                    raise BadRequest(f'digest mismatch, expected "{raw}", got "sha256:{actual}"')
            try:
                await asyncio.to_thread(writer.commit)
            except DigestError as exc:
                raise BadRequest(
                    f'digest mismatch, expected "{raw}", got "sha256:{writer.hexdigest}"'
                ) from exc
        finally:
            writer.abort()
        return Response(b"", status_code=201)

    # -- pull -----------------------------------------------------------------------------

    async def pull(self, request: Request) -> Response:
        body = await self._body(request, PULL)
        text = body.get("model") or body.get("name") or ""
        name = ModelName.parse(text)
        if not text or not name.is_valid:
            raise BadRequest("invalid model name")
        stream = body.get("stream", True)
        if not is_demo_name(name):
            # Imported here: httpx is only needed once a registry is involved.
            from .registry import pull_job

            insecure = bool(body.get("insecure"))
            return await self._progress_job(
                request, pull_job(self.store, name, insecure=insecure), stream
            )

        def work(job: Job) -> None:
            install_demo_model(self.store, lambda item: job.put("item", item), name)

        return await self._progress_job(request, work, stream)

    async def push(self, request: Request) -> Response:
        from .registry import PUSH, push_job, push_name

        body = await self._body(request, PUSH)
        work = push_job(self.store, push_name(body), insecure=bool(body.get("insecure")))
        return await self._progress_job(request, work, body.get("stream", True))

    async def _progress_job(
        self, request: Request, work: Callable[[Job], Any], stream: bool
    ) -> Response:
        job = Job()
        job.start(work)
        if not stream:
            last: dict[str, Any] = {}
            while True:
                kind, value = await job.next()
                if kind == "item":
                    last = value
                elif kind == "error":
                    return error_response(_error_text(value), _error_status(value))
                else:
                    return json_response(last)
        kind, value = await job.next()
        if kind == "error":
            return error_response(_error_text(value), _error_status(value))

        async def lines(first: tuple[str, Any]) -> AsyncIterator[bytes]:
            kind, value = first
            while True:
                if kind == "item":
                    yield _line(value)
                elif kind == "error":
                    yield _line({"error": _error_text(value)})
                    return
                else:
                    return
                kind, value = await job.next()

        return NDJSONResponse(lines((kind, value)), job.cancel.set)

    # -- create ---------------------------------------------------------------------------

    async def create(self, request: Request) -> Response:
        # Checking parses the template: in a worker.
        plan = await asyncio.to_thread(check_create_request, await self._body(request, CREATE))

        def work(job: Job) -> None:
            create_model(
                self.store,
                plan,
                lambda item: job.put("item", item),
                cancel=job.cancel,
                threads=self.config.num_thread,
            )

        return await self._progress_job(request, work, plan.body.get("stream", True))

    # -- generate / chat ------------------------------------------------------------------

    async def generate(self, request: Request) -> Response:
        started = time.perf_counter_ns()
        body = await self._body(request, GENERATE)
        model_text = body.get("model", "")
        model = await self._find(
            model_text, empty_status=404, empty_message=f"model '{model_text}' not found"
        )
        gguf = self._gguf(model)
        caps = await asyncio.to_thread(prompting.capabilities, model, gguf)
        keep_alive = self._keep_alive(body)
        think = think_value(body.get("think"))
        raw = bool(body.get("raw"))
        prompt_text: str = body.get("prompt", "")
        suffix: str = body.get("suffix", "")
        if raw and (body.get("template") or body.get("system") or body.get("context")):
            raise BadRequest("raw mode does not support template, system, or context")
        top_logprobs = body.get("top_logprobs", 0)
        if not 0 <= top_logprobs <= 20:
            raise BadRequest("top_logprobs must be between 0 and 20")
        grammar = _grammar_source(body.get("format"))
        if "completion" not in caps:
            raise BadRequest(f'"{model_text}" does not support generate')
        if suffix and "insert" not in caps:
            raise BadRequest(f"{_capability_name(model_text)} does not support insert")
        if think and "thinking" not in caps:
            raise BadRequest(f'"{model_text}" does not support thinking')
        if think is None and "thinking" in caps:
            think = True  # Ollama turns thinking on by default for models that can think
        options = self._options(model, body)
        load = self._load_options(model, options)
        stream = body.get("stream", True)

        if not prompt_text and not body.get("images"):
            return await self._load_or_unload(model, load, keep_alive, model_text, "response")

        fmt = prompting.prompt_format(model, gguf)
        if body.get("template"):
            try:
                fmt = prompting.PromptFormat("go", body["template"])
                # Parsed now (in a worker) so a bad template is a 400 before loading.
                await asyncio.to_thread(prompting.parse_go_template, fmt.source)
            except prompting.TemplateError as exc:
                raise BadRequest(f"template: {exc}") from None
        thinking_tags = fmt.thinking_tags() if think else None
        context: list[int] = body.get("context") or []
        system = body.get("system") or model.system
        think_arg = think if "thinking" in caps else None
        cancel = threading.Event()
        limits = prompting.render_limits(load.num_ctx, cancel)

        def build(runner: Runner | None) -> str:
            if raw:
                return prompt_text
            if suffix:
                text = fmt.render_prompt(prompt_text, suffix=suffix, think=think_arg, limits=limits)
            else:
                messages: list[dict[str, Any]] = []
                if system:
                    messages.append({"role": "system", "content": system})
                if not context:
                    messages.extend(model.messages)
                messages.append({"role": "user", "content": prompt_text})
                text = self._render(fmt, model, runner, messages, None, think_arg, limits)
            if context and runner is not None:
                text = runner.detokenize(context) + text
            return text

        if body.get("_debug_render_only"):
            return await self._debug_render(request, model_text, build, cancel, chat=False)
        sampling = SamplingOptions.from_options(options)
        truncate = body.get("truncate", True)
        return await self._run_generation(
            request,
            started=started,
            model=model,
            model_text=model_text,
            load=load,
            keep_alive=keep_alive,
            build=build,
            sampling=sampling,
            truncate=truncate,
            grammar=grammar,
            stream=stream,
            chat=False,
            include_context=not raw,
            shaper=OutputShaper(thinking_tags),
            logprobs=top_logprobs if body.get("logprobs") else None,
            cancel=cancel,
        )

    def _options(self, model: StoredModel, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return parse_options(model.params, body.get("options"))
        except OptionError as exc:
            raise BadRequest(str(exc), 500) from None

    def _render(
        self,
        fmt: prompting.PromptFormat,
        model: StoredModel,
        runner: Runner | None,
        messages: list[dict[str, Any]],
        tools: list[Any] | None,
        think: bool | str | None,
        limits: Limits | None = None,
    ) -> str:
        bos = eos = ""
        if fmt.kind == "jinja":
            if runner is not None:
                bos = runner.detokenize([runner.llm.token_bos()])
                eos = runner.detokenize([runner.llm.token_eos()])
            else:
                bos, eos = self._special_tokens(model)
        return fmt.render_messages(
            messages, tools=tools, think=think, bos_token=bos, eos_token=eos, limits=limits
        )

    def _special_tokens(self, model: StoredModel) -> tuple[str, str]:
        """BOS and EOS text from the GGUF vocabulary, for rendering without a loaded model."""
        gguf = self._gguf(model, verbose=True)
        if gguf is None:
            return "", ""
        tokens = gguf.metadata.get("tokenizer.ggml.tokens")
        texts = []
        for key in ("tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"):
            index = gguf.metadata.get(key)
            ok = isinstance(tokens, list) and isinstance(index, int) and 0 <= index < len(tokens)
            texts.append(str(tokens[index]) if ok else "")  # type: ignore[index]
        return texts[0], texts[1]

    async def _debug_render(
        self,
        request: Request,
        model_text: str,
        build: Callable[[Runner | None], str],
        cancel: threading.Event,
        *,
        chat: bool,
    ) -> Response:
        """``_debug_render_only``: the prompt the model would see, without running it (in a
        worker: a long chat takes a while to render)."""
        out: dict[str, Any] = {"model": model_text, "created_at": rfc3339_utc_now()}
        if chat:
            out["message"] = {"role": "assistant", "content": ""}
        else:
            out["response"] = ""
        out["done"] = False
        rendered = await _guarded(request, asyncio.to_thread(build, None), cancel.set)
        out["_debug_info"] = {"rendered_template": rendered, "image_count": 0}
        return Response(
            await asyncio.to_thread(json_bytes, out), status_code=200, media_type=JSON_TYPE
        )

    async def _load_or_unload(
        self,
        model: StoredModel,
        load: LoadOptions,
        keep_alive: int,
        model_text: str,
        field_name: str,
    ) -> Response:
        if keep_alive == 0:
            await self.sched.unload(model)
            reason = "unload"
        else:
            lease = await self.sched.acquire(model, load, keep_alive, compute=False)
            lease.release()
            reason = "load"
        out: dict[str, Any] = {"model": model_text, "created_at": rfc3339_utc_now()}
        if field_name == "message":
            out["message"] = {"role": "assistant", "content": ""}
        else:
            out["response"] = ""
        out["done"] = True
        out["done_reason"] = reason
        return json_response(out)

    async def chat(self, request: Request) -> Response:
        started = time.perf_counter_ns()
        body = await self._body(request, CHAT)
        model_text = body.get("model", "")
        model = await self._find(model_text, empty_status=400, empty_message="model is required")
        gguf = self._gguf(model)
        caps = await asyncio.to_thread(prompting.capabilities, model, gguf)
        keep_alive = self._keep_alive(body)
        think = think_value(body.get("think"))
        top_logprobs = body.get("top_logprobs", 0)
        if not 0 <= top_logprobs <= 20:
            raise BadRequest("top_logprobs must be between 0 and 20")
        grammar = _grammar_source(body.get("format"))
        tools = body.get("tools") or None
        if "completion" not in caps:
            raise BadRequest(f'"{model_text}" does not support chat')
        if tools and "tools" not in caps:
            raise BadRequest(f"{_capability_name(model_text)} does not support tools")
        if think and "thinking" not in caps:
            raise BadRequest(f'"{model_text}" does not support thinking')
        if think is None and "thinking" in caps:
            think = True  # Ollama turns thinking on by default for models that can think
        options = self._options(model, body)
        load = self._load_options(model, options)
        stream = body.get("stream", True)
        request_messages: list[dict[str, Any]] = body.get("messages") or []
        if not request_messages:
            return await self._load_or_unload(model, load, keep_alive, model_text, "message")

        fmt = prompting.prompt_format(model, gguf)
        messages = [*model.messages, *request_messages]
        if request_messages[0].get("role") != "system" and model.system:
            messages.insert(0, {"role": "system", "content": model.system})
        thinking_tags = fmt.thinking_tags() if think else None
        think_arg = think if "thinking" in caps else None
        truncate = body.get("truncate", True)
        sampling = SamplingOptions.from_options(options)
        cancel = threading.Event()
        limits = prompting.render_limits(load.num_ctx, cancel)

        def build(runner: Runner | None, thought: str = "") -> str:
            current = list(messages)
            if thought:
                current.append({"role": "assistant", "content": "", "thinking": thought})
            text = self._render(fmt, model, runner, current, tools, think_arg, limits)
            if not truncate or runner is None:
                return text
            limit = runner.n_ctx - max(
                1, min(sampling.num_predict if sampling.num_predict > 0 else 256, runner.n_ctx // 4)
            )
            # Drop the oldest turns (never system messages or the last message) until the
            # prompt fits, as Ollama's chatPrompt does.
            while len(runner.tokenize(text)) > limit:
                index = next(
                    (i for i, item in enumerate(current[:-1]) if item.get("role") != "system"),
                    None,
                )
                if index is None:
                    break
                del current[index]
                text = self._render(fmt, model, runner, current, tools, think_arg, limits)
            return text

        if body.get("_debug_render_only"):
            return await self._debug_render(request, model_text, build, cancel, chat=True)
        parser = ToolCallParser(fmt.tool_tag(), tool_names(tools)) if tools else None

        return await self._run_generation(
            request,
            started=started,
            model=model,
            model_text=model_text,
            load=load,
            keep_alive=keep_alive,
            build=build,
            sampling=sampling,
            truncate=truncate,
            grammar=grammar,
            stream=stream,
            chat=True,
            include_context=False,
            shaper=OutputShaper(thinking_tags, parser),
            logprobs=top_logprobs if body.get("logprobs") else None,
            # Ollama lets a thinking model think freely and applies `format` from the answer on.
            deferred=(thinking_tags, build)
            if grammar is not None and thinking_tags is not None and "thinking" in caps
            else None,
            cancel=cancel,
        )

    async def _run_generation(
        self,
        request: Request,
        *,
        started: int,
        model: StoredModel,
        model_text: str,
        load: LoadOptions,
        keep_alive: int,
        build: Callable[[Runner | None], str],
        sampling: SamplingOptions,
        truncate: bool,
        grammar: tuple[str, str] | None,
        stream: bool,
        chat: bool,
        include_context: bool,
        shaper: OutputShaper,
        logprobs: int | None = None,
        deferred: tuple[tuple[str, str], Callable[[Runner, str], str]] | None = None,
        cancel: threading.Event | None = None,
    ) -> Response:
        """``deferred``: the thinking tags and a prompt builder taking the thinking text, for
        a format applied only once the thinking is over (Ollama's structured outputs with
        thinking: stop when the answer starts, then restart constrained with the thinking
        as an assistant message)."""
        lease = await self.sched.acquire(model, load, keep_alive)
        job = Job(cancel)

        def work(job: Job) -> GenerationResult:
            runner = lease.runner
            text = build(runner)
            job.put("prompt", text)

            def run(
                text: str,
                emit: Callable[[str], None],
                spec: tuple[str, str] | None,
                cancel: threading.Event,
            ) -> GenerationResult:
                tokens = runner.tokenize(text, add_bos=not _starts_with_bos(runner, text))
                tokens = runner.fit_prompt(tokens, sampling, truncate=truncate)
                return runner.generate(
                    tokens,
                    sampling,
                    emit,
                    cancel,
                    grammar=_make_grammar(spec),
                    logprobs=logprobs,
                    emit_logprobs=lambda items: job.put("logprobs", items),
                )

            def emit(piece: str) -> None:
                job.put("text", piece)

            if deferred is None:
                return run(text, emit, grammar, job.cancel)
            (opening, closing), rebuild = deferred
            watcher = ThinkingParser(opening, closing)
            if text.strip().endswith(opening):
                watcher.open()
            thought: list[str] = []
            answering = threading.Event()

            def watch(piece: str) -> None:
                if answering.is_set():
                    return
                thinking, content = watcher.feed(piece)
                thought.append(thinking)
                if content and any(thought):
                    answering.set()
                    # The unconstrained start of the answer is dropped; it is regenerated.
                    piece = piece[: max(0, len(piece) - len(content))]
                if piece:
                    emit(piece)

            result = run(text, watch, None, _AnyEvent(job.cancel, answering))
            if not answering.is_set() or job.cancel.is_set():
                return result
            return run(rebuild(runner, "".join(thought)), emit, grammar, job.cancel)

        job.start(work, lease)

        def record(piece: Piece, items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
            out: dict[str, Any] = {"model": model_text, "created_at": rfc3339_utc_now()}
            if chat:
                message: dict[str, Any] = {"role": "assistant", "content": piece.content}
                if piece.thinking:
                    message["thinking"] = piece.thinking
                if piece.tool_calls:
                    message["tool_calls"] = piece.tool_calls
                out["message"] = message
            else:
                out["response"] = piece.content
                if piece.thinking:
                    out["thinking"] = piece.thinking
            out["done"] = False
            if items:
                out["logprobs"] = items
            return out

        def final(
            result: GenerationResult,
            merged: Piece | None = None,
            items: list[dict[str, Any]] | None = None,
        ) -> dict[str, Any]:
            out = record(merged or Piece(), items)
            out["done"] = True
            out["done_reason"] = result.done_reason
            if include_context:
                out["context"] = result.prompt_tokens + result.output_tokens
            _metrics(out, result, started, lease.load_ns)
            return out

        async def events() -> AsyncIterator[tuple[str, Any]]:
            """Generation events with the rendered prompt consumed; ends after done/error."""
            while True:
                kind, value = await job.next()
                if kind == "prompt":
                    shaper.prompt_rendered(value)
                    continue
                yield kind, value
                if kind in ("done", "error"):
                    return

        if not stream:

            async def collect() -> dict[str, Any]:
                merged = Piece()
                items: list[dict[str, Any]] = []
                async for kind, value in events():
                    if kind == "error":
                        raise value
                    if kind == "logprobs":
                        items += value
                        continue
                    piece = shaper.feed(value) if kind == "text" else shaper.finish()
                    merged.content += piece.content
                    merged.thinking += piece.thinking
                    merged.tool_calls += piece.tool_calls
                    if kind == "done":
                        return final(value, merged, items)
                raise RuntimeError("generation ended without a result")

            try:
                out = await _guarded(request, collect(), job.cancel.set)
            except Exception as exc:
                return error_response(_error_text(exc), _error_status(exc))
            return json_response(out)

        iterator = events().__aiter__()
        first = await _guarded(request, iterator.__anext__(), job.cancel.set)
        if first[0] == "error":
            return error_response(_error_text(first[1]), _error_status(first[1]))

        # Token lines are the hot path: assemble them from pre-encoded pieces.
        head = b'{"model":' + json_bytes(model_text) + b',"created_at":"'
        if chat:
            middle, tail = b'","message":{"role":"assistant","content":', b'},"done":false}\n'
        else:
            middle, tail = b'","response":', b',"done":false}\n'
        fast = shaper.passthrough and logprobs is None

        async def lines() -> AsyncIterator[bytes]:
            kind, value = first
            items: list[dict[str, Any]] = []
            while True:
                if kind == "text" and fast:
                    yield head + rfc3339_utc_now().encode() + middle + json_bytes(value) + tail
                elif kind == "logprobs":
                    items += value
                elif kind == "text":
                    piece = shaper.feed(value)
                    if piece:
                        yield _line(record(piece, items))
                        items = []
                elif kind == "error":
                    yield _line({"error": _error_text(value)})
                    return
                else:
                    piece = shaper.finish()
                    if piece:
                        yield _line(record(piece, items))
                        items = []
                    yield _line(final(value, None, items))
                    return
                kind, value = await iterator.__anext__()

        return NDJSONResponse(lines(), job.cancel.set)

    # -- embeddings -----------------------------------------------------------------------

    async def embed(self, request: Request) -> Response:
        started = time.perf_counter_ns()
        body = await self._body(request, EMBED)
        model_text = body.get("model", "")
        model = await self._find(
            model_text, empty_status=404, empty_message=f"model '{model_text}' not found"
        )
        value = body.get("input")
        if value is None or value == "":
            texts: list[str] = []
        elif isinstance(value, str):
            texts = [value]
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            texts = list(value)
        else:
            raise BadRequest("invalid input type")
        keep_alive = self._keep_alive(body)
        options = self._options(model, body)
        load = self._load_options(model, options)
        if not texts:
            lease = await self.sched.acquire(model, load, keep_alive, compute=False)
            lease.release()
            return json_response({"model": model_text, "embeddings": []})
        truncate = body.get("truncate", True)
        dimensions = body.get("dimensions", 0)
        result, load_ns = await self._embed_job(request, model, load, keep_alive, texts, truncate)
        vectors = []
        for vector in result.vectors:
            normalised = l2_normalise(vector)
            if 0 < dimensions < len(normalised):
                normalised = l2_normalise(normalised[:dimensions])
            vectors.append(normalised)
        out: dict[str, Any] = {"model": model_text, "embeddings": vectors}
        out["total_duration"] = time.perf_counter_ns() - started
        if load_ns:
            out["load_duration"] = load_ns
        if result.prompt_tokens:
            out["prompt_eval_count"] = result.prompt_tokens
        return json_response(out)

    async def embeddings(self, request: Request) -> Response:
        body = await self._body(request, EMBEDDINGS)
        model_text = body.get("model", "")
        model = await self._find(model_text, empty_status=400, empty_message="model is required")
        keep_alive = self._keep_alive(body)
        options = self._options(model, body)
        load = self._load_options(model, options)
        text = body.get("prompt", "")
        if not text:
            lease = await self.sched.acquire(model, load, keep_alive, compute=False)
            lease.release()
            return json_response({"embedding": []})
        try:
            result, _ = await self._embed_job(request, model, load, keep_alive, [text], True)
        except BadRequest as exc:
            raise BadRequest(exc.message, 500) from None
        return json_response({"embedding": result.vectors[0]})

    async def _embed_job(
        self,
        request: Request,
        model: StoredModel,
        load: LoadOptions,
        keep_alive: int,
        texts: list[str],
        truncate: bool,
    ) -> tuple[EmbedResult, int]:
        lease = await self.sched.acquire(model, load, keep_alive)
        job = Job()
        job.start(lambda job: lease.runner.embed(texts, truncate=truncate), lease)

        async def wait() -> EmbedResult:
            kind, value = await job.next()
            if kind == "error":
                if isinstance(value, PromptTooLongError):
                    raise BadRequest(str(value), 400)
                raise value
            result: EmbedResult = value
            if not all(math.isfinite(x) for vector in result.vectors for x in vector):
                raise BadRequest("embedding contains NaN or Inf values", 500)
            return result

        return await _guarded(request, wait(), job.cancel.set), lease.load_ns


# -- formatting helpers -------------------------------------------------------------------


class _AnyEvent(threading.Event):
    """Reads as set when any of the given events is (the runner only polls ``is_set``)."""

    def __init__(self, *events: threading.Event) -> None:
        super().__init__()
        self._events = events

    def is_set(self) -> bool:
        return any(event.is_set() for event in self._events)


def _starts_with_bos(runner: Runner, text: str) -> bool:
    bos = runner.llm.token_bos()
    if bos < 0:
        return False
    piece = runner.detokenize([bos])
    return bool(piece) and text.startswith(piece)


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


# -- middleware ---------------------------------------------------------------------------


# -- the application ----------------------------------------------------------------------


def _wrap(
    handler: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except BadRequest as exc:
            return error_response(exc.message, exc.status)
        except QueueFullError as exc:
            return error_response(str(exc), 503)
        except (OptionError, prompting.TemplateError) as exc:
            return error_response(str(exc), 500)
        except ClientDisconnect:
            # The client went away mid-request (e.g. during a blob upload); nobody reads this.
            return error_response("request canceled", 499)
        except Exception as exc:
            log.error("%s %s failed:\n%s", request.method, request.url.path, traceback.format_exc())
            return error_response(_error_text(exc), 500)

    return endpoint


async def _not_found(request: Request, exc: Exception) -> Response:
    return PlainTextResponse("404 page not found", status_code=404)


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    return PlainTextResponse("405 method not allowed", status_code=405)


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 404:
        return await _not_found(request, exc)
    if status == 405:
        return await _method_not_allowed(request, exc)
    detail = exc.detail if isinstance(exc, HTTPException) else str(exc)
    return error_response(str(detail), status)


def create_app(config: ServerConfig) -> Starlette:
    """The ASGI application for ``config``."""
    server = OllamaServer(config)
    routes = [
        Route("/", _wrap(server.root), methods=["GET", "HEAD"]),
        Route("/api/version", _wrap(server.version), methods=["GET", "HEAD"]),
        Route("/api/tags", _wrap(server.tags), methods=["GET", "HEAD"]),
        Route("/api/ps", _wrap(server.ps), methods=["GET"]),
        Route("/api/show", _wrap(server.show), methods=["POST"]),
        Route("/api/create", _wrap(server.create), methods=["POST"]),
        Route("/api/copy", _wrap(server.copy), methods=["POST"]),
        Route("/api/delete", _wrap(server.delete), methods=["DELETE"]),
        Route("/api/pull", _wrap(server.pull), methods=["POST"]),
        Route("/api/push", _wrap(server.push), methods=["POST"]),
        Route("/api/blobs/{digest}", _wrap(server.blob), methods=["HEAD", "POST"]),
        Route("/api/generate", _wrap(server.generate), methods=["POST"]),
        Route("/api/chat", _wrap(server.chat), methods=["POST"]),
        Route("/api/embed", _wrap(server.embed), methods=["POST"]),
        Route("/api/embeddings", _wrap(server.embeddings), methods=["POST"]),
        *openai_routes(server),
        *account_routes(config.cloud_url, no_cloud=config.no_cloud),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await server.startup()
        try:
            yield
        finally:
            await server.shutdown()

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error},
    )
    app.state.server = server
    # Added first, so it runs inside ServerMiddleware: host check and access log see the 413.
    app.add_middleware(BodyLimitMiddleware, limit=config.max_body, exempt=("/api/blobs/",))
    app.add_middleware(
        ServerMiddleware,
        loopback=is_loopback_bind(config.host),
        origins=config.origins,
    )
    return app
