"""Embeddings: a second llama.cpp context in embedding mode, created on first use.

The inputs of one call are packed into as few decodes as the batch allows: each input is its
own sequence in a shared batch (llama.cpp masks attention between sequences), so a list of
short inputs costs one or two decodes instead of one each. An input longer than a batch is
decoded alone, in chunks.

Models whose GGUF names a pooling type (embedding models) pool in llama.cpp; others (causal
language models such as gemma3) return per-token embeddings that are mean-pooled here.
Vectors are returned unnormalised; the caller normalises.

Packing changes how llama.cpp groups each input's tokens, which moves its results: on the
demo model an input embedded alone and the same input in a batch of twelve agree to a cosine
similarity of 0.998 or more (``benchmarks/bench_embed.py`` measures it). The same call always
packs the same way, so repeating it gives identical vectors. Ollama (through llama.cpp's
server) batches the inputs of one call too.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

__all__ = ["EmbedResult", "Embedder"]

# Tokens decoded at once when pooling ourselves. llama.cpp computes vocabulary logits for
# every token whose embedding it returns; with a 262k vocabulary that is 1 MB per token,
# so whole-context batches would need gigabytes.
POOL_CHUNK = 256
# Inputs in one decode at most (llama.cpp allows up to 256 sequences).
MAX_SEQUENCES = 64


@dataclass
class EmbedResult:
    vectors: list[list[float]]
    prompt_tokens: int


class Embedder:
    def __init__(
        self,
        model: Any,
        *,
        num_ctx: int,
        n_ctx_train: int,
        num_thread: int,
        pooling: bool,
        compute_lock: threading.Lock,
    ) -> None:
        import llama_cpp

        internals: Any = __import__("llama_cpp._internals", fromlist=["LlamaContext"])
        self._llama_cpp = llama_cpp
        self._model = model
        self._pooling = pooling
        self._compute_lock = compute_lock
        size = max(64, min(num_ctx, n_ctx_train or 2048))
        batch = size if pooling else min(size, POOL_CHUNK)
        sequences = max(1, min(MAX_SEQUENCES, int(llama_cpp.llama_max_parallel_sequences())))
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = size
        params.n_batch = batch
        params.n_ubatch = batch
        params.n_seq_max = sequences
        params.kv_unified = True  # inputs share the cells: the context holds one batch
        params.n_threads = num_thread
        params.n_threads_batch = num_thread
        params.embeddings = True
        params.pooling_type = (
            llama_cpp.LLAMA_POOLING_TYPE_UNSPECIFIED
            if pooling
            else llama_cpp.LLAMA_POOLING_TYPE_NONE
        )
        self._context: Any = internals.LlamaContext(model=model, params=params, verbose=False)
        self._ctx = self._context.ctx
        self._memory = self._context.memory
        self.n_ctx = int(llama_cpp.llama_n_ctx(self._ctx))
        self.n_batch = batch
        self._sequences = sequences
        self._width = int(llama_cpp.llama_model_n_embd(model.model))
        self._batch = internals.LlamaBatch(n_tokens=batch, embd=0, n_seq_max=1, verbose=False)
        self._lock = threading.Lock()  # one call at a time uses the context

    @property
    def max_input(self) -> int:
        """Tokens an input may have: a pooling model sees a whole input in one batch."""
        return self.n_batch if self._pooling else self.n_ctx

    def tokenize(self, text: str) -> list[int]:
        return list(self._model.tokenize(text.encode("utf-8"), add_bos=True, special=False))

    def embed(self, inputs: list[list[int]]) -> EmbedResult:
        """Unnormalised pooled embeddings, one per input (at most :attr:`max_input` tokens
        each), in order."""
        vectors: list[list[float] | None] = [None] * len(inputs)
        with self._lock:
            for group in self._groups(inputs):
                if len(group) == 1 and len(inputs[group[0]]) > self.n_batch:
                    vectors[group[0]] = self._long_input(inputs[group[0]])
                    continue
                for index, vector in zip(group, self._packed([inputs[i] for i in group])):
                    vectors[index] = vector
        out = []
        for found in vectors:
            assert found is not None
            if not all(math.isfinite(value) for value in found):
                raise ValueError("embedding contains NaN or Inf values")
            out.append(found)
        return EmbedResult(vectors=out, prompt_tokens=sum(len(tokens) for tokens in inputs))

    def _groups(self, inputs: list[list[int]]) -> list[list[int]]:
        """Consecutive inputs that fit one batch together (an over-long one alone)."""
        groups: list[list[int]] = []
        current: list[int] = []
        used = 0
        for index, tokens in enumerate(inputs):
            size = max(1, len(tokens))
            if current and (used + size > self.n_batch or len(current) >= self._sequences):
                groups.append(current)
                current, used = [], 0
            current.append(index)
            used += size
        if current:
            groups.append(current)
        return groups

    def _packed(self, inputs: list[list[int]]) -> list[list[float]]:
        """One decode for several inputs, each its own sequence."""
        import numpy as np

        llama_cpp = self._llama_cpp
        self._clear()
        batch = self._batch
        batch.reset()
        spans = []
        for seq_id, tokens in enumerate(inputs):
            start = batch.batch.n_tokens
            if tokens:
                batch.add_sequence(tokens, seq_id, True)
            spans.append((start, batch.batch.n_tokens))
        if batch.batch.n_tokens:
            self._decode()
        vectors = []
        if self._pooling:
            for seq_id, (start, end) in enumerate(spans):
                if start == end:
                    vectors.append([0.0] * self._width)
                    continue
                pointer = llama_cpp.llama_get_embeddings_seq(self._ctx, seq_id)
                row = np.ctypeslib.as_array(pointer, shape=(self._width,))
                vectors.append([float(value) for value in row])
        else:
            pointer = llama_cpp.llama_get_embeddings(self._ctx)
            rows = np.ctypeslib.as_array(pointer, shape=(max(1, batch.batch.n_tokens), self._width))
            for start, end in spans:
                total = rows[start:end].sum(axis=0, dtype=np.float64)
                vectors.append([float(value) for value in total / max(1, end - start)])
        self._clear()
        return vectors

    def _long_input(self, tokens: list[int]) -> list[float]:
        """Mean-pooled embedding of an input longer than one batch, decoded in chunks."""
        import numpy as np

        llama_cpp = self._llama_cpp
        self._clear()
        total = np.zeros(self._width, dtype=np.float64)
        for begin in range(0, len(tokens), self.n_batch):
            part = tokens[begin : begin + self.n_batch]
            self._batch.set_batch(batch=part, n_past=begin, logits_all=True)
            self._decode()
            pointer = llama_cpp.llama_get_embeddings(self._ctx)
            rows = np.ctypeslib.as_array(pointer, shape=(len(part), self._width))
            total += rows.sum(axis=0, dtype=np.float64)
        self._clear()
        return [float(value) for value in total / max(1, len(tokens))]

    def _decode(self) -> None:
        with self._compute_lock:
            status = self._llama_cpp.llama_decode(self._ctx, self._batch.batch)
        if status != 0:
            raise RuntimeError(f"llama.cpp could not decode the embedding batch (status {status})")

    def _clear(self) -> None:
        if self._memory is not None:
            self._llama_cpp.llama_memory_clear(self._memory, True)

    def close(self) -> None:
        self._batch.close()
        self._context.close()
