"""The llama.cpp runner: load a GGUF, tokenize, generate, embed.

A :class:`Runner` is one loaded model: one llama.cpp context with ``num_parallel`` slots,
driven by a :class:`~.batching.Batcher` that batches every running generation into each
decode. :meth:`Runner.generate` blocks its (worker) thread until its generation ends,
reporting each piece of text through a callback; it polls a cancel flag between tokens, so a
client that goes away frees its slot within one token. Any number of threads may call a
runner at once; the scheduler keeps that number at most ``num_parallel``.

Options follow Ollama's names and defaults (``ollama-api.md`` section 2). Options that change
how the model is loaded are part of :class:`LoadOptions`; a request asking for different ones
gets a freshly loaded runner.
"""

from __future__ import annotations

import ctypes
import importlib
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .batching import Batcher, GenerationResult, SequenceSpec
from .embedding import Embedder, EmbedResult
from .sampling import Sampler
from .stops import StopFilter
from .validate import BadRequest

__all__ = [
    "DEFAULT_OPTIONS",
    "KV_CACHE_TYPES",
    "EmbedResult",
    "GenerationResult",
    "LoadOptions",
    "OptionError",
    "PromptTooLongError",
    "Runner",
    "SamplingOptions",
    "StopFilter",
    "default_threads",
    "kv_cache_type_for",
    "l2_normalise",
    "parse_options",
]

log = logging.getLogger("ollamakit.server")

# Ollama's DefaultOptions (api/types.go). num_ctx is decided by the server (see
# default_num_ctx) rather than here.
DEFAULT_OPTIONS: dict[str, Any] = {
    "num_keep": 4,
    "seed": -1,
    "num_predict": -1,
    "top_k": 40,
    "top_p": 0.9,
    "min_p": 0.0,
    "typical_p": 1.0,
    "repeat_last_n": 64,
    "temperature": 0.8,
    "repeat_penalty": 1.0,
    "presence_penalty": 0.0,
    "frequency_penalty": 0.0,
    "stop": [],
    "num_batch": 512,
    "num_gpu": -1,
    "num_thread": 0,
}

_INT_OPTIONS = {
    "num_keep",
    "seed",
    "num_predict",
    "top_k",
    "repeat_last_n",
    "num_ctx",
    "num_batch",
    "num_gpu",
    "main_gpu",
    "num_thread",
    "draft_num_predict",
}
_FLOAT_OPTIONS = {
    "top_p",
    "min_p",
    "typical_p",
    "temperature",
    "repeat_penalty",
    "presence_penalty",
    "frequency_penalty",
}
_BOOL_OPTIONS = {"use_mmap"}
_NULLABLE = {"main_gpu", "use_mmap"}
# Every generated token is checked against every distinct stop string on the thread that
# decodes all slots, so their number bounds what one request can cost the others (1,000
# adversarial ones: about 0.6 ms per token). Their length costs nothing per token.
MAX_STOP_STRINGS = 1000


class OptionError(ValueError):
    """An option of the wrong type (Ollama answers these with 500)."""


class PromptTooLongError(ValueError):
    """The prompt does not fit the context and truncation was not allowed."""


def parse_options(*layers: dict[str, Any] | None) -> dict[str, Any]:
    """Merge option maps (later wins) over the defaults, checking types as Ollama's
    ``Options.FromMap`` does. Unknown and removed options are ignored."""
    merged = dict(DEFAULT_OPTIONS)
    merged["stop"] = []
    for layer in layers:
        if not layer:
            continue
        for key, value in layer.items():
            if key in _INT_OPTIONS:
                if value is None and key in _NULLABLE:
                    merged[key] = None
                elif (
                    isinstance(value, bool)
                    or not isinstance(value, (int, float))
                    or (isinstance(value, float) and not math.isfinite(value))
                ):
                    raise OptionError(f'option "{key}" must be of type integer')
                else:
                    merged[key] = int(value)
            elif key in _FLOAT_OPTIONS:
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise OptionError(f'option "{key}" must be of type float32')
                merged[key] = float(value)
            elif key in _BOOL_OPTIONS:
                if value is None:
                    merged[key] = None
                elif not isinstance(value, bool):
                    raise OptionError(f'option "{key}" must be of type boolean')
                else:
                    merged[key] = value
            elif key == "stop":
                if not isinstance(value, list):
                    raise OptionError(f'option "{key}" must be of type array')
                if not all(isinstance(item, str) for item in value):
                    raise OptionError(f'option "{key}" must be of an array of strings')
                distinct = len({item for item in value if item})
                if distinct > MAX_STOP_STRINGS:
                    raise BadRequest(
                        f'option "stop" has {distinct} strings, '
                        f"more than the {MAX_STOP_STRINGS} allowed"
                    )
                merged[key] = list(value)
            else:
                log.debug("invalid option provided: %s", key)
    return merged


def _physical_cores() -> int:
    try:
        available = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        available = os.cpu_count() or 1
    cores: set[tuple[str, str]] = set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            physical = core = ""
            for line in handle:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "physical id":
                    physical = value
                elif key == "core id":
                    core = value
                elif not key and (physical or core):
                    cores.add((physical, core))
                    physical = core = ""
            if physical or core:
                cores.add((physical, core))
    except OSError:
        pass
    physical_count = len(cores) if cores else available
    return max(1, min(physical_count, available))


def default_threads() -> int:
    """llama.cpp threads: physical cores, at most 4. More threads than cores makes llama.cpp
    spin against itself (a measurement here was 25x slower), so never exceed them."""
    return max(1, min(_physical_cores(), 4))


def usable_threads(requested: int) -> int:
    """``num_thread`` from a request, capped at the CPUs this process may use."""
    if requested <= 0:
        return default_threads()
    try:
        available = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        available = os.cpu_count() or 1
    return max(1, min(requested, available))


@dataclass(frozen=True)
class LoadOptions:
    """Options fixed when llama.cpp creates the context; different values need a reload.

    ``num_ctx`` is each slot's context: the context llama.cpp allocates holds
    ``num_ctx * num_parallel`` tokens, as in Ollama. ``flash_attention`` None lets llama.cpp
    decide; ``kv_cache_type`` is one of :data:`KV_CACHE_TYPES`.
    """

    num_ctx: int
    num_batch: int
    num_thread: int
    use_mmap: bool = False
    num_parallel: int = 1
    flash_attention: bool | None = None
    kv_cache_type: str = "f16"


# OLLAMA_KV_CACHE_TYPE values and their ggml types; the quantized ones need flash attention.
KV_CACHE_TYPES = {"f16": 1, "q8_0": 8, "q4_0": 2}


def kv_cache_type_for(requested: str, flash_attention: bool | None) -> str:
    """The KV cache type a load uses, with Ollama's rules (``llm/server.go``): an unknown
    type, or a quantized one with flash attention turned off, falls back to f16."""
    kind = requested.strip().lower() or "f16"
    if kind not in KV_CACHE_TYPES:
        log.warning("unsupported OLLAMA_KV_CACHE_TYPE %r, using f16", requested)
        return "f16"
    if kind != "f16" and flash_attention is False:
        log.warning(
            "OLLAMA_FLASH_ATTENTION must be enabled to use a quantized OLLAMA_KV_CACHE_TYPE "
            "(%s), using f16",
            kind,
        )
        return "f16"
    return kind


@dataclass(frozen=True)
class SamplingOptions:
    temperature: float = 0.8
    top_k: int = 40
    top_p: float = 0.9
    min_p: float = 0.0
    typical_p: float = 1.0
    repeat_penalty: float = 1.0
    repeat_last_n: int = 64
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    seed: int = -1
    num_predict: int = -1
    num_keep: int = 4
    stop: tuple[str, ...] = ()
    shift: bool = True  # the request's `shift`: context shift when the context fills

    @classmethod
    def from_options(cls, options: dict[str, Any], *, shift: bool = True) -> SamplingOptions:
        return cls(
            temperature=options["temperature"],
            top_k=options["top_k"],
            top_p=options["top_p"],
            min_p=options["min_p"],
            typical_p=options["typical_p"],
            repeat_penalty=options["repeat_penalty"],
            repeat_last_n=options["repeat_last_n"],
            presence_penalty=options["presence_penalty"],
            frequency_penalty=options["frequency_penalty"],
            seed=options["seed"],
            num_predict=options["num_predict"],
            num_keep=options["num_keep"],
            stop=tuple(stop for stop in options["stop"] if stop),
            shift=shift,
        )


def l2_normalise(vector: Sequence[float]) -> list[float]:
    norm = math.sqrt(math.fsum(value * value for value in vector))
    if norm == 0:
        return [float(value) for value in vector]
    return [value / norm for value in vector]


_BUFFER_SIZE = re.compile(r"\bbuffer size\s*=\s*([0-9.]+)\s*MiB")
_capture = threading.local()


class Runner:
    """One loaded model: a llama.cpp context with ``num_parallel`` slots (see the module
    docstring). Safe to call from several threads at once."""

    def __init__(
        self,
        model_path: Path,
        load: LoadOptions,
        *,
        pooling: bool = False,
        adapter: Path | None = None,
    ) -> None:
        import llama_cpp

        # llama_cpp ships partial annotations; its model and context wrappers are used untyped.
        internals: Any = importlib.import_module("llama_cpp._internals")
        _quiet_llama_logs()
        llama_cpp.llama_backend_init()
        self._llama_cpp = llama_cpp
        self.model_path = model_path
        self.load_options = load
        self._has_pooling = pooling  # the GGUF names a pooling type: an embedding model
        started = time.perf_counter_ns()
        model_params = llama_cpp.llama_model_default_params()
        model_params.n_gpu_layers = 0
        model_params.use_mmap = load.use_mmap
        # No repacked CPU kernels: their results depend on how many rows share a batch, so a
        # request would answer differently alone and batched (see batching.py). Measured on
        # the demo model, they were no faster here either (docs/performance.md).
        model_params.use_extra_bufts = False
        slots = max(1, load.num_parallel)
        with _BufferSizes() as sizes:
            self._model: Any = internals.LlamaModel(
                path_model=str(model_path), params=model_params, verbose=True
            )
            params = llama_cpp.llama_context_default_params()
            params.n_ctx = load.num_ctx * slots
            # A generation step decodes one token per slot in one batch; prompts still go
            # in chunks of num_batch.
            params.n_batch = max(load.num_batch, slots)
            params.n_ubatch = max(load.num_batch, slots)
            params.n_seq_max = slots
            params.kv_unified = False  # one KV stream per slot: see batching.py
            # Sliding-window layers keep every position, as the others do: with the small
            # ring-buffer cache, where a token's cells land depends on the history of the
            # slot, and so do the results (see batching.py).
            params.swa_full = True
            params.n_threads = load.num_thread
            params.n_threads_batch = load.num_thread
            params.flash_attn_type = {
                None: llama_cpp.LLAMA_FLASH_ATTN_TYPE_AUTO,
                True: llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED,
                False: llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED,
            }[load.flash_attention]
            kv_type = KV_CACHE_TYPES[kv_cache_type_for(load.kv_cache_type, load.flash_attention)]
            params.type_k = kv_type
            params.type_v = kv_type
            try:
                self._context: Any = internals.LlamaContext(
                    model=self._model, params=params, verbose=True
                )
            except BaseException:
                self._model.close()
                raise
        self.memory_bytes = sizes.total
        self._ctx = self._context.ctx
        self._vocab = self._model.vocab
        self._embedder: Embedder | None = None
        if adapter is not None:
            self._attach_adapter(adapter)
        self.load_ns = time.perf_counter_ns() - started
        self._piece_cache: dict[int, bytes] = {}
        self.n_vocab = int(llama_cpp.llama_vocab_n_tokens(self._vocab))
        self.n_ctx_train = int(llama_cpp.llama_model_n_ctx_train(self._model.model))
        self._n_ctx_seq = int(llama_cpp.llama_n_ctx_seq(self._ctx))
        self._bos = int(llama_cpp.llama_vocab_bos(self._vocab))
        self._eos = int(llama_cpp.llama_vocab_eos(self._vocab))
        self._adds_bos = bool(llama_cpp.llama_vocab_get_add_bos(self._vocab))
        # Decodes of the generation loop and of embeddings take turns on the CPU.
        self._compute_lock = threading.Lock()
        self._embedder_lock = threading.Lock()
        self._batcher = Batcher(
            ctx=self._ctx,
            n_vocab=self.n_vocab,
            n_ctx_seq=self._n_ctx_seq,
            n_batch=load.num_batch,
            n_slots=slots,
            n_swa=int(llama_cpp.llama_model_n_swa(self._model.model)),
            piece=self.piece,
            is_eog=self.is_eog,
            compute_lock=self._compute_lock,
        )

    def _attach_adapter(self, path: Path) -> None:
        llama_cpp = self._llama_cpp
        adapter = llama_cpp.llama_adapter_lora_init(self._model.model, str(path).encode("utf-8"))
        if not adapter:
            self.close()
            raise RuntimeError(f"failed to load the adapter {path.name}")
        # llama.cpp frees adapters with their model.
        adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(adapter)
        scales = (ctypes.c_float * 1)(1.0)
        if llama_cpp.llama_set_adapters_lora(self._ctx, adapters, 1, scales):
            self.close()
            raise RuntimeError(f"failed to apply the adapter {path.name}")

    @property
    def n_ctx(self) -> int:
        """Tokens one generation may use (each slot's context)."""
        return self._n_ctx_seq

    @property
    def num_parallel(self) -> int:
        return len(self._batcher.slots)

    @property
    def metadata(self) -> dict[str, str]:
        return dict(self._model.metadata())

    # -- text <-> tokens ----------------------------------------------------------------

    def token_bos(self) -> int:
        return self._bos

    def token_eos(self) -> int:
        return self._eos

    def tokenize(self, text: str, *, add_bos: bool = True) -> list[int]:
        if not text:
            return [self._bos] if add_bos and self._adds_bos else []
        return list(self._model.tokenize(text.encode("utf-8"), add_bos, True))

    def piece(self, token: int) -> bytes:
        cached = self._piece_cache.get(token)
        if cached is not None:
            return cached
        buffer = ctypes.create_string_buffer(256)
        n = self._llama_cpp.llama_token_to_piece(self._vocab, token, buffer, len(buffer), 0, True)
        if n < 0:
            buffer = ctypes.create_string_buffer(-n)
            n = self._llama_cpp.llama_token_to_piece(self._vocab, token, buffer, -n, 0, True)
        data = bytes(buffer.raw[: max(n, 0)])
        self._piece_cache[token] = data
        return data

    def detokenize(self, tokens: Sequence[int]) -> str:
        self._check_tokens(tokens)
        return b"".join(self.piece(token) for token in tokens).decode("utf-8", errors="replace")

    def _check_tokens(self, tokens: Sequence[int]) -> None:
        for token in tokens:
            # llama.cpp aborts the whole process on an id outside the vocabulary.
            if not 0 <= token < self.n_vocab:
                raise BadRequest(f"invalid token {token}: the vocabulary has {self.n_vocab} tokens")

    def is_eog(self, token: int) -> bool:
        return bool(self._llama_cpp.llama_vocab_is_eog(self._vocab, token))

    # -- generation ---------------------------------------------------------------------

    def fit_prompt(
        self, tokens: list[int], options: SamplingOptions, *, truncate: bool
    ) -> list[int]:
        """Cut the middle of a prompt that does not fit, keeping ``num_keep`` tokens in front."""
        n_ctx = self.n_ctx
        room = options.num_predict if options.num_predict > 0 else 256
        limit = max(1, n_ctx - max(1, min(room, n_ctx // 4)))
        if len(tokens) <= limit:
            return tokens
        if not truncate:
            raise PromptTooLongError(
                "the prompt is longer than the context length currently available to the "
                f"model; prompt has {len(tokens)} tokens, context length is {n_ctx}"
            )
        keep = max(0, min(options.num_keep, limit // 2))
        if keep == 0 and tokens and tokens[0] == self._bos:
            keep = 1
        return tokens[:keep] + tokens[len(tokens) - (limit - keep) :]

    def generate(
        self,
        prompt_tokens: list[int],
        options: SamplingOptions,
        emit: Callable[[str], None],
        cancel: threading.Event,
        *,
        grammar: Any = None,
        logprobs: int | None = None,
        emit_logprobs: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> GenerationResult:
        """Generate until a stop condition; ``emit`` receives text pieces as they are ready.

        With ``logprobs`` (the number of alternatives per token, 0..20), ``emit_logprobs``
        receives the log-probabilities of the tokens behind each piece just before it.
        """
        result = GenerationResult(
            done_reason="stop", prompt_tokens=prompt_tokens, prompt_eval_count=len(prompt_tokens)
        )
        if not prompt_tokens:
            return result
        n_ctx = self.n_ctx
        # Ollama caps num_predict at 10 x num_ctx (llm/llama_server.go; the num_ctx asked for,
        # which llama.cpp may round up); negative means that cap.
        cap = 10 * self.load_options.num_ctx
        limit = options.num_predict if 0 <= options.num_predict <= cap else cap
        if limit == 0:
            return result
        self._check_tokens(prompt_tokens)
        if len(prompt_tokens) >= n_ctx:
            raise PromptTooLongError(
                f"the prompt has {len(prompt_tokens)} tokens, the context length is {n_ctx}"
            )
        last_n = options.repeat_last_n
        sampler = Sampler(
            self._vocab,
            self.n_vocab,
            options,
            last_n=n_ctx if last_n < 0 else last_n,
            grammar=grammar,
        )
        # Ollama's runner keeps num_keep tokens after the BOS it adds (negative: the prompt).
        keep = options.num_keep if options.num_keep >= 0 else len(prompt_tokens)
        if self._adds_bos:
            keep += 1
        spec = SequenceSpec(
            prompt=list(prompt_tokens),
            sampler=sampler,
            emit=emit,
            cancel=cancel,
            limit=limit,
            num_keep=min(keep, n_ctx - 1),
            stops=options.stop,
            shift=options.shift,
            logprobs=logprobs,
            emit_logprobs=emit_logprobs,
        )
        return self._batcher.run(spec)

    # -- embeddings ---------------------------------------------------------------------

    def _embedding_context(self) -> Embedder:
        with self._embedder_lock:
            if self._embedder is None:
                with _BufferSizes() as sizes:
                    self._embedder = Embedder(
                        self._model,
                        num_ctx=self.load_options.num_ctx,
                        n_ctx_train=self.n_ctx_train,
                        num_thread=self.load_options.num_thread,
                        pooling=self._has_pooling,
                        compute_lock=self._compute_lock,
                    )
                self.memory_bytes += sizes.total
            return self._embedder

    def embed(self, texts: list[str], *, truncate: bool) -> EmbedResult:
        """Unnormalised pooled embeddings, one per text, in order."""
        embedder = self._embedding_context()
        limit = embedder.max_input
        inputs = []
        for text in texts:
            tokens = embedder.tokenize(text)
            if len(tokens) > limit:
                if not truncate:
                    raise PromptTooLongError("the input length exceeds the context length")
                tokens = tokens[:limit]
            inputs.append(tokens)
        return embedder.embed(inputs)

    def close(self) -> None:
        batcher = getattr(self, "_batcher", None)
        if batcher is not None:
            batcher.close()
        if self._embedder is not None:
            self._embedder.close()
            self._embedder = None
        try:
            self._context.close()
            self._model.close()
        except Exception as exc:
            log.debug("closing llama.cpp model failed: %s", exc)


class _BufferSizes:
    """Adds up the buffer sizes llama.cpp logs while this thread loads a model or creates a
    context (weights, KV cache, compute and output buffers): the memory a runner holds, as
    Ollama reads it from llama-server's log."""

    def __init__(self) -> None:
        self.total = 0

    def __enter__(self) -> _BufferSizes:
        _capture.sizes = self
        return self

    def __exit__(self, *exc: object) -> None:
        _capture.sizes = None

    def add(self, message: str) -> None:
        match = _BUFFER_SIZE.search(message)
        if match:
            self.total += int(float(match.group(1)) * 1024 * 1024)


_log_callback: Any = None


def _quiet_llama_logs() -> None:
    """Route llama.cpp's own logging (every load step, on stderr) to our logger: errors stay
    visible, the rest goes to debug. A server prints one line per request instead."""
    global _log_callback
    if _log_callback is not None:
        return
    import llama_cpp

    llama_log = logging.getLogger("ollamakit.server.llama_cpp")

    last_level = [0]

    @llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]
    def callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        # ggml levels: 1 debug, 2 info, 3 warn, 4 error, 5 continues the previous line.
        if level == 5:
            level = last_level[0]
        last_level[0] = level
        message = text.decode("utf-8", errors="replace").rstrip()
        if not message:
            return
        sizes = getattr(_capture, "sizes", None)
        if sizes is not None:
            sizes.add(message)
        if level == 4:
            llama_log.error("%s", message)
        elif llama_log.isEnabledFor(logging.DEBUG):
            llama_log.debug("%s", message)

    _log_callback = callback
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
