"""The llama.cpp runner: load a GGUF, tokenize, generate token by token, embed.

Everything here is blocking and runs in worker threads; the scheduler makes sure only one
generation uses a runner at a time. A generation reports each piece of text through a
callback and polls a cancel flag between tokens, so a client that goes away stops the model
within one token.

Options follow Ollama's names and defaults (``ollama-api.md`` section 2). Options that change
how the model is loaded (``num_ctx``, ``num_batch``, ``num_thread``) are part of
:class:`LoadOptions`; a request asking for different ones gets a freshly loaded runner.
"""

from __future__ import annotations

import codecs
import ctypes
import importlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .validate import BadRequest

__all__ = [
    "DEFAULT_OPTIONS",
    "EmbedResult",
    "GenerationResult",
    "LoadOptions",
    "OptionError",
    "PromptTooLongError",
    "Runner",
    "SamplingOptions",
    "default_threads",
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
    """Options fixed when llama.cpp creates the context; different values need a reload."""

    num_ctx: int
    num_batch: int
    num_thread: int
    use_mmap: bool = False


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

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> SamplingOptions:
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
        )


@dataclass
class GenerationResult:
    done_reason: str
    prompt_tokens: list[int]
    output_tokens: list[int] = field(default_factory=list)
    prompt_eval_count: int = 0
    prompt_eval_ns: int = 0
    eval_count: int = 0
    eval_ns: int = 0


@dataclass
class EmbedResult:
    vectors: list[list[float]]
    prompt_tokens: int


def l2_normalise(vector: Sequence[float]) -> list[float]:
    norm = math.sqrt(math.fsum(value * value for value in vector))
    if norm == 0:
        return [float(value) for value in vector]
    return [value / norm for value in vector]


class _StopFilter:
    """Holds back text that could be the start of a stop sequence, so a stop string split
    across tokens never leaks to the client."""

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = [stop for stop in stops if stop]
        self.pending = ""

    def feed(self, text: str) -> tuple[str, bool]:
        """Returns text safe to emit and whether a stop sequence was hit."""
        if not self.stops:
            return text, False
        buffer = self.pending + text
        cut = -1
        for stop in self.stops:
            index = buffer.find(stop)
            if index >= 0 and (cut < 0 or index < cut):
                cut = index
        if cut >= 0:
            self.pending = ""
            return buffer[:cut], True
        hold = 0
        for stop in self.stops:
            for length in range(min(len(stop) - 1, len(buffer)), 0, -1):
                if buffer.endswith(stop[:length]):
                    hold = max(hold, length)
                    break
        if hold:
            self.pending = buffer[-hold:]
            return buffer[:-hold], False
        self.pending = ""
        return buffer, False

    def flush(self) -> str:
        text, self.pending = self.pending, ""
        return text


class _Sampler:
    """llama.cpp's sampler chain for one request, in Ollama's order (penalties, top_k,
    typical_p, top_p, min_p, temperature, then a seeded draw; greedy at temperature 0).

    A grammar (``format``) is checked the way llama.cpp's own server does: sample without
    it, and only when the chosen token breaks the grammar, resample with the grammar applied
    to the whole vocabulary. Applying it to all 262k tokens of every step is 10x slower.
    """

    def __init__(
        self, runner: Runner, options: SamplingOptions, *, last_n: int, grammar: Any
    ) -> None:
        llama_cpp = runner._llama_cpp
        # llama_cpp ships partial annotations; its sampler wrapper is used untyped.
        _internals: Any = importlib.import_module("llama_cpp._internals")
        self._llama_cpp = llama_cpp
        self._ctx = runner.llm.ctx
        self._n_vocab = runner.n_vocab
        seed = options.seed if options.seed >= 0 else llama_cpp.LLAMA_DEFAULT_SEED
        chain: Any = _internals.LlamaSampler()
        chain.add_penalties(
            runner.n_vocab,
            last_n,
            options.repeat_penalty,
            options.frequency_penalty,
            options.presence_penalty,
        )
        temperature = options.temperature
        if temperature == 0:
            chain.add_greedy()
        elif temperature < 0:
            chain.add_dist(seed)
        else:
            chain.add_top_k(options.top_k)
            chain.add_typical(options.typical_p, 1)
            chain.add_top_p(options.top_p, 1)
            chain.add_min_p(options.min_p, 1)
            chain.add_temp(temperature)
            chain.add_dist(seed)
        self._chain: Any = chain
        self._grammar: Any = None
        if grammar is not None:
            self._grammar = llama_cpp.llama_sampler_init_grammar(
                runner._vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8")
            )
            if not self._grammar:
                raise ValueError("invalid grammar for format")
        self._single = (llama_cpp.llama_token_data * 1)()

    def sample(self, logits: Any) -> int:
        """The next token, from the context's last logits or the given saved ones."""
        llama_cpp = self._llama_cpp
        if logits is None and self._grammar is None:
            return int(llama_cpp.llama_sampler_sample(self._chain.sampler, self._ctx, -1))
        import numpy as np

        if logits is None:
            pointer = llama_cpp.llama_get_logits_ith(self._ctx, -1)
            logits = np.ctypeslib.as_array(pointer, shape=(self._n_vocab,))
        token = self._apply(self._chain.sampler, logits, first=None)
        if self._grammar is not None and not self._allowed(token):
            token = self._apply(self._chain.sampler, logits, first=self._grammar)
        if self._grammar is not None:
            llama_cpp.llama_sampler_accept(self._grammar, token)
        llama_cpp.llama_sampler_accept(self._chain.sampler, token)
        return token

    def _apply(self, chain: Any, logits: Any, first: Any) -> int:
        import numpy as np

        llama_cpp = self._llama_cpp
        data = np.empty(
            self._n_vocab, dtype=np.dtype([("id", "<i4"), ("logit", "<f4"), ("p", "<f4")])
        )
        data["id"] = np.arange(self._n_vocab, dtype=np.int32)
        data["logit"] = logits
        data["p"] = 0.0
        array = llama_cpp.llama_token_data_array(
            data=data.ctypes.data_as(llama_cpp.llama_token_data_p),
            size=self._n_vocab,
            selected=-1,
            sorted=False,
        )
        if first is not None:
            llama_cpp.llama_sampler_apply(first, ctypes.byref(array))
        llama_cpp.llama_sampler_apply(chain, ctypes.byref(array))
        if array.selected < 0:
            raise RuntimeError("sampling selected no token")
        return int(array.data[array.selected].id)

    def _allowed(self, token: int) -> bool:
        llama_cpp = self._llama_cpp
        self._single[0].id = token
        self._single[0].logit = 1.0
        self._single[0].p = 0.0
        array = llama_cpp.llama_token_data_array(
            data=ctypes.cast(self._single, llama_cpp.llama_token_data_p),
            size=1,
            selected=-1,
            sorted=False,
        )
        llama_cpp.llama_sampler_apply(self._grammar, ctypes.byref(array))
        return bool(math.isfinite(array.data[0].logit))

    def close(self) -> None:
        self._chain.close()
        if self._grammar is not None:
            self._llama_cpp.llama_sampler_free(self._grammar)
            self._grammar = None


class Runner:
    """One loaded model. Not thread-safe: the scheduler serialises calls."""

    def __init__(
        self,
        model_path: Path,
        load: LoadOptions,
        *,
        pooling: bool = False,
        adapter: Path | None = None,
    ) -> None:
        import llama_cpp

        _quiet_llama_logs()
        self._llama_cpp = llama_cpp
        self.model_path = model_path
        self.load_options = load
        self._has_pooling = pooling  # the GGUF names a pooling type: an embedding model
        started = time.perf_counter_ns()
        self.llm = llama_cpp.Llama(
            str(model_path),
            n_ctx=load.num_ctx,
            n_batch=load.num_batch,
            n_ubatch=load.num_batch,
            n_threads=load.num_thread,
            n_threads_batch=load.num_thread,
            n_gpu_layers=0,
            use_mmap=load.use_mmap,
            lora_path=str(adapter) if adapter is not None else None,
            verbose=False,
        )
        self.load_ns = time.perf_counter_ns() - started
        self._vocab = llama_cpp.llama_model_get_vocab(self.llm.model)
        self._piece_cache: dict[int, bytes] = {}
        self._piece_buffer = ctypes.create_string_buffer(256)
        self._embedder: Any = None
        self.n_vocab = int(self.llm.n_vocab())
        # KV cache bookkeeping for _evaluate_prompt.
        self._cached: list[int] = []
        self._exact = 0
        self._last_prompt: list[int] | None = None
        self._last_logits: Any = None
        self.n_ctx_train = int(llama_cpp.llama_model_n_ctx_train(self.llm.model))

    @property
    def n_ctx(self) -> int:
        return int(self.llm.n_ctx())

    # -- text <-> tokens ----------------------------------------------------------------

    def tokenize(self, text: str, *, add_bos: bool = True) -> list[int]:
        if not text:
            return [self.llm.token_bos()] if add_bos and self._adds_bos() else []
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True))

    def _adds_bos(self) -> bool:
        return bool(self._llama_cpp.llama_vocab_get_add_bos(self._vocab))

    def piece(self, token: int) -> bytes:
        cached = self._piece_cache.get(token)
        if cached is not None:
            return cached
        buffer = self._piece_buffer
        n = self._llama_cpp.llama_token_to_piece(self._vocab, token, buffer, len(buffer), 0, True)
        if n < 0:
            buffer = ctypes.create_string_buffer(-n)
            n = self._llama_cpp.llama_token_to_piece(self._vocab, token, buffer, -n, 0, True)
        data = bytes(buffer.raw[: max(n, 0)])
        self._piece_cache[token] = data
        return data

    def detokenize(self, tokens: Sequence[int]) -> str:
        for token in tokens:
            # llama.cpp aborts the whole process on an id outside the vocabulary.
            if not 0 <= token < self.n_vocab:
                raise BadRequest(f"invalid token {token}: the vocabulary has {self.n_vocab} tokens")
        return b"".join(self.piece(token) for token in tokens).decode("utf-8", errors="replace")

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
        if keep == 0 and tokens and tokens[0] == self.llm.token_bos():
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
        result = GenerationResult(done_reason="stop", prompt_tokens=prompt_tokens)
        result.prompt_eval_count = len(prompt_tokens)
        if not prompt_tokens:
            return result
        n_ctx = self.n_ctx
        # Ollama caps num_predict at 10 x num_ctx (llm/llama_server.go); negative means that cap.
        limit = options.num_predict if 0 <= options.num_predict <= 10 * n_ctx else 10 * n_ctx
        if limit == 0:
            return result
        started = time.perf_counter_ns()
        stored_logits = self._evaluate_prompt(prompt_tokens, cancel)
        if cancel.is_set():
            result.done_reason = ""
            return result
        last_n = options.repeat_last_n
        sampler = _Sampler(
            self,
            options,
            last_n=n_ctx if last_n < 0 else last_n,
            grammar=grammar,
        )
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        stopper = _StopFilter(options.stop)
        hit_stop_string = False
        pending: list[dict[str, Any]] = []
        try:
            token = sampler.sample(stored_logits)
            first_at = time.perf_counter_ns()
            result.prompt_eval_ns = first_at - started
            row = stored_logits
            while True:
                if cancel.is_set():
                    result.done_reason = ""
                    break
                if self.is_eog(token):
                    break
                result.output_tokens.append(token)
                if logprobs is not None:
                    pending.append(self._logprob(token, row, logprobs))
                text, hit_stop_string = stopper.feed(decoder.decode(self.piece(token)))
                if text:
                    if pending and emit_logprobs is not None:
                        emit_logprobs(pending)
                        pending = []
                    emit(text)
                if hit_stop_string:
                    break
                if len(result.output_tokens) >= limit or len(self._cached) >= n_ctx - 1:
                    result.done_reason = "length"
                    break
                self._decode([token], len(self._cached))
                self._cached.append(token)
                token = sampler.sample(None)
                row = None
        finally:
            sampler.close()
        if result.done_reason and not hit_stop_string:
            tail = stopper.flush() + decoder.decode(b"", final=True)
            if pending and emit_logprobs is not None:
                emit_logprobs(pending)
            if tail:
                emit(tail)
        result.eval_count = len(result.output_tokens)
        result.eval_ns = time.perf_counter_ns() - first_at
        return result

    def _logprob(self, token: int, row: Any, top: int) -> dict[str, Any]:
        """Ollama's logprob record for ``token``, from the logits it was sampled from."""
        import numpy as np

        if row is None:
            pointer = self._llama_cpp.llama_get_logits_ith(self.llm.ctx, -1)
            row = np.ctypeslib.as_array(pointer, shape=(self.n_vocab,))
        logits = np.asarray(row, dtype=np.float64)
        peak = float(logits.max())
        normaliser = peak + math.log(float(np.exp(logits - peak).sum()))

        def record(candidate: int) -> dict[str, Any]:
            raw = self.piece(candidate)
            return {
                "token": raw.decode("utf-8", errors="replace"),
                "logprob": float(logits[candidate]) - normaliser,
                "bytes": list(raw),
            }

        item = record(token)
        if top > 0:
            best = np.argpartition(logits, -top)[-top:]
            best = best[np.argsort(-logits[best])]
            item["top_logprobs"] = [record(int(candidate)) for candidate in best]
        return item

    @property
    def _context(self) -> Any:
        return self.llm._ctx

    def _decode(self, tokens: Sequence[int], position: int) -> None:
        batch: Any = self.llm._batch
        batch.set_batch(batch=tokens, n_past=position, logits_all=False)
        self._context.decode(batch)

    def _evaluate_prompt(self, tokens: list[int], cancel: threading.Event) -> Any:
        """Bring the KV cache to ``tokens``; returns saved logits when the prompt is the
        previous one (nothing to evaluate), else None (the context holds fresh logits).

        llama.cpp's results depend on how a prompt is split into batches (a logit can move
        by 1.0 between splits), so reusing an arbitrary cached prefix would make the same
        request answer differently depending on what ran before. Prompts are therefore
        evaluated in chunks aligned to multiples of ``num_batch``, and only whole chunks
        computed that way are reused; a repeated prompt reuses its saved final logits.
        Results are then the same as on a fresh model.
        """
        size = self.load_options.num_batch
        common = 0
        for cached, token in zip(self._cached, tokens):
            if cached != token:
                break
            common += 1
        repeated = tokens == self._last_prompt and common == len(tokens)
        if repeated and self._last_logits is not None and self._trim(len(tokens)):
            return self._last_logits
        reuse = min(common, self._exact) // size * size
        if not self._trim(reuse):
            reuse = 0
        self._cached = list(tokens[:reuse])
        self._exact = reuse
        self._last_prompt = None
        self._last_logits = None
        for begin in range(reuse, len(tokens), size):
            if cancel.is_set():
                return None
            chunk = tokens[begin : begin + size]
            self._decode(chunk, begin)
            self._cached.extend(chunk)
            if len(chunk) == size:
                self._exact = begin + size
        self._last_prompt = list(tokens)
        self._last_logits = self._logits_copy()
        return None

    def _trim(self, keep: int) -> bool:
        """Drop KV entries from ``keep`` on; False (and an empty cache) when llama.cpp cannot
        remove a partial range."""
        if keep == 0:
            self._context.kv_cache_clear()
            self._cached = []
            self._exact = 0
            return True
        if self._context.kv_cache_seq_rm(-1, keep, -1):
            del self._cached[keep:]
            return True
        self._context.kv_cache_clear()
        self._cached = []
        self._exact = 0
        return False

    def _logits_copy(self) -> Any:
        import numpy as np

        pointer = self._llama_cpp.llama_get_logits_ith(self.llm.ctx, -1)
        return np.ctypeslib.as_array(pointer, shape=(self.n_vocab,)).copy()

    # -- embeddings ---------------------------------------------------------------------

    # Tokens decoded at once when pooling ourselves. llama.cpp computes vocabulary logits for
    # every token whose embedding it returns; with a 262k vocabulary that is 1 MB per token,
    # so whole-context batches would need gigabytes.
    _EMBED_CHUNK = 256

    def _embedding_model(self) -> Any:
        """A second llama.cpp context in embedding mode, created on first use.

        Models whose GGUF names a pooling type (embedding models) use it; others (causal
        language models such as gemma3) return per-token embeddings that are mean-pooled here.
        """
        if self._embedder is None:
            llama_cpp = self._llama_cpp
            size = max(64, min(self.load_options.num_ctx, self.n_ctx_train or 2048))
            batch = size if self._has_pooling else min(size, self._EMBED_CHUNK)
            self._embedder = llama_cpp.Llama(
                str(self.model_path),
                n_ctx=size,
                n_batch=batch,
                n_ubatch=batch,
                n_threads=self.load_options.num_thread,
                n_threads_batch=self.load_options.num_thread,
                n_gpu_layers=0,
                embedding=True,
                pooling_type=(
                    llama_cpp.LLAMA_POOLING_TYPE_UNSPECIFIED
                    if self._has_pooling
                    else llama_cpp.LLAMA_POOLING_TYPE_NONE
                ),
                use_mmap=self.load_options.use_mmap,
                verbose=False,
            )
        return self._embedder

    def embed(self, texts: list[str], *, truncate: bool) -> EmbedResult:
        """Unnormalised pooled embeddings, one per text, in order."""
        model = self._embedding_model()
        limit = int(model.n_ctx()) if not self._has_pooling else int(model.n_batch)
        vectors: list[list[float]] = []
        total = 0
        for text in texts:
            tokens = list(model.tokenize(text.encode("utf-8"), add_bos=True, special=False))
            if len(tokens) > limit:
                if not truncate:
                    raise PromptTooLongError("the input length exceeds the context length")
                tokens = tokens[:limit]
            total += len(tokens)
            if self._has_pooling:
                vector = [
                    float(value)
                    for value in model.embed(
                        model.detokenize(tokens).decode("utf-8", errors="ignore"),
                        normalize=False,
                        truncate=True,
                    )
                ]
            else:
                vector = self._mean_pooled(model, tokens)
            if not all(math.isfinite(value) for value in vector):
                raise ValueError("embedding contains NaN or Inf values")
            vectors.append(vector)
        return EmbedResult(vectors=vectors, prompt_tokens=total)

    def _mean_pooled(self, model: Any, tokens: list[int]) -> list[float]:
        import numpy as np

        llama_cpp = self._llama_cpp
        context: Any = model._ctx
        batch: Any = model._batch
        width = int(model.n_embd())
        context.kv_cache_clear()
        total = np.zeros(width, dtype=np.float64)
        for begin in range(0, len(tokens), int(model.n_batch)):
            part = tokens[begin : begin + int(model.n_batch)]
            batch.set_batch(batch=part, n_past=begin, logits_all=True)
            context.decode(batch)
            pointer = llama_cpp.llama_get_embeddings(context.ctx)
            rows = np.ctypeslib.as_array(pointer, shape=(len(part), width))
            total += rows.sum(axis=0, dtype=np.float64)
        context.kv_cache_clear()
        return [float(value) for value in total / max(1, len(tokens))]

    def close(self) -> None:
        for model in (self._embedder, self.llm):
            if model is not None:
                try:
                    model.close()
                except Exception as exc:
                    log.debug("closing llama.cpp model failed: %s", exc)
        self._embedder = None


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
        if level == 4:
            llama_log.error("%s", message)
        elif llama_log.isEnabledFor(logging.DEBUG):
            llama_log.debug("%s", message)

    _log_callback = callback
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
